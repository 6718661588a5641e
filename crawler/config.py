"""One settings object for a crawl, loaded from TOML and overridden by flags.

Every field is documented in ``config/default.toml``; validation turns each
mistake into a :class:`ConfigError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .http_settings import (
    SettingError,
    load_netrc,
    netrc_path,
    parse_auth,
    parse_cookie,
    parse_header,
    proxies,
)
from .version import __version__

DEFAULT_USER_AGENT = f"crawler/{__version__} (+https://pypi.org/project/crawler/)"
# The drivers, in the order a comparison shows them: blocking first, async (the default) last.
MODES = ("sync", "threaded", "process", "async")


class ConfigError(ValueError):
    """A setting is unknown or has a bad value."""


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    """Every setting of a crawl; see ``config/default.toml`` for each one's meaning."""

    mode: str = "async"
    concurrency: int = 16
    workers: int = 16
    per_host: int = 8
    delay: float = 0.0
    max_pages: int | None = None
    max_depth: int | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    time_limit: float | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10
    max_url_length: int = 2048
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    respect_robots: bool = True
    follow_nofollow: bool = False
    sitemaps: bool = False
    allow_private_addresses: bool = False
    verify_tls: bool = True
    ca_file: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    allow_domains: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    parse_workers: int | None = None
    parse_offload_bytes: int = 16 * 1024
    max_query_variants: int = 1000
    max_repeated_segments: int = 3
    max_pattern_urls: int = 0
    max_token_urls: int = 1000
    # A link check (crawler check): also check links the crawl does not follow (see crawler.check).
    check_links: bool = False
    check_external: bool = True
    check_fragments: bool = False
    # What requests carry and where they go (see crawler.outbound); repr=False: they may hold secrets.
    headers: tuple[str, ...] = field(default=(), repr=False)
    cookies: tuple[str, ...] = field(default=(), repr=False)
    auth: str | None = field(default=None, repr=False)
    netrc: bool = False
    cookie_jar: bool = False
    proxy: str | None = field(default=None, repr=False)
    proxy_from_env: bool = True
    no_proxy: tuple[str, ...] = ()
    capture: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> CrawlConfig:
        """Return a copy with some settings changed (and validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def effective_parse_workers(self) -> int:
        """How many parse processes the async driver starts (0 parses inline)."""
        if self.parse_workers is None:
            return os.cpu_count() or 1
        return self.parse_workers


_FIELDS = {f.name: f for f in dataclasses.fields(CrawlConfig)}
_POSITIVE_INTS = ("concurrency", "workers", "per_host", "max_pages", "max_url_length")
_NON_NEGATIVE_INTS = (
    "max_depth", "max_redirects", "retries", "parse_workers", "parse_offload_bytes",
    "max_query_variants", "max_repeated_segments", "max_pattern_urls", "max_token_urls",
)
_POSITIVE_FLOATS = ("timeout", "connect_timeout", "time_limit", "backoff_max")
_NON_NEGATIVE_FLOATS = ("delay", "backoff_base", "max_retry_after")
_BOOLS = ("respect_robots", "follow_nofollow", "sitemaps", "allow_private_addresses", "verify_tls", "netrc",
          "cookie_jar", "proxy_from_env", "capture", "check_links", "check_external", "check_fragments")
_STRING_LISTS = ("allow_domains", "include", "exclude", "headers", "cookies", "no_proxy")
_OPTIONAL_STRINGS = ("ca_file", "auth", "proxy")


def _validate(config: CrawlConfig) -> None:
    """Raise ConfigError for the first bad value found."""
    if config.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {config.mode!r}")
    for name in _POSITIVE_INTS + _NON_NEGATIVE_INTS:
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, not {value!r}")
        if value < (1 if name in _POSITIVE_INTS else 0):
            raise ConfigError(f"{name} must be {'positive' if name in _POSITIVE_INTS else '0 or more'}, not {value}")
    for name in _POSITIVE_FLOATS + _NON_NEGATIVE_FLOATS:
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        if not math.isfinite(value):  # nan passes every comparison, and --delay inf waited forever
            raise ConfigError(f"{name} must be a finite number, not {value}")
        if value < 0 or (value == 0 and name in _POSITIVE_FLOATS):
            raise ConfigError(f"{name} must be {'positive' if name in _POSITIVE_FLOATS else '0 or more'}, not {value}")
    if config.max_body_bytes < 1:
        raise ConfigError(f"max_body_bytes must be positive, not {config.max_body_bytes}")
    if not config.user_agent.strip():
        raise ConfigError("user_agent must not be empty")
    if config.ca_file is not None:
        _check_ca_file(config.ca_file)
    for name in ("include", "exclude"):
        for pattern in getattr(config, name):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{name} pattern {pattern!r} is not a valid regular expression: {exc}") from None
    try:
        _check_outbound(config)
    except SettingError as exc:
        raise ConfigError(str(exc)) from None


def _check_outbound(config: CrawlConfig) -> None:
    """Raise SettingError for a malformed header, cookie, credential or proxy (the environment's too)."""
    for header in config.headers:
        parse_header(header)
    for cookie in config.cookies:
        parse_cookie(cookie)
    if config.auth is not None:
        parse_auth(config.auth)
    if config.netrc and config.auth is None:
        load_netrc(netrc_path())
    proxies(config.proxy, config.proxy_from_env, os.environ)


def _check_ca_file(path: str) -> None:
    """Raise ConfigError unless path is a PEM file of CA certificates."""
    import ssl  # here: only a crawl with its own CAs needs it at start-up

    if not Path(path).is_file():
        raise ConfigError(f"ca_file {path!r} is not a file")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"ca_file {path!r} holds no usable CA certificate: {exc}") from None


def _coerce(name: str, value: Any) -> Any:
    """Turn TOML values into the field's type (lists into tuples, for example)."""
    if name in _STRING_LISTS:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings, not {value!r}")
        return tuple(value)
    if name in ("mode", "user_agent") and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    if name in _OPTIONAL_STRINGS and value is not None and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    if name in _BOOLS and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    return value


def config_from_mapping(data: Mapping[str, Any], base: CrawlConfig | None = None) -> CrawlConfig:
    """Build a config from plain data, rejecting unknown keys."""
    changes = {}
    for name, value in data.items():
        key = name.replace("-", "_")
        if key not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}")
        changes[key] = _coerce(key, value)
    try:
        return dataclasses.replace(base or CrawlConfig(), **changes)
    except TypeError as exc:  # a wrong type that comparison in _validate tripped on
        raise ConfigError(str(exc)) from None


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> CrawlConfig:
    """Load a TOML file (its ``[crawl]`` table or top level), then apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                document = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        data = document.get("crawl", document)
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: [crawl] must be a table")
        stray = sorted(set(document) - {"crawl"}) if data is not document else []
        if stray:  # beside a [crawl] table a top-level setting would be silently ignored
            raise ConfigError(f"config file {path}: {stray[0]!r} is outside the [crawl] table; "
                              "put every setting under [crawl]")
    config = config_from_mapping(data)
    return config_from_mapping(overrides or {}, base=config)


__all__ = ["DEFAULT_USER_AGENT", "MODES", "ConfigError", "CrawlConfig", "config_from_mapping", "load_config"]

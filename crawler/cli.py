"""The command line: argument parsing -> config -> a crawl, with progress and a summary.

Every user mistake ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import MODES, ConfigError, CrawlConfig, load_config
from .errors import OutputError
from .stores.sqlite import StateError
from .urls import canonical_hostname, normalize_url
from .version import __version__
from .workloads import WORKLOADS

# The crawl machinery (aiohttp, rich, the drivers) loads in the command that needs it,
# so that --help and a mistake on the command line answer at once.
if TYPE_CHECKING:
    from .api import Crawler
    from .demo import DemoSpec
    from .figures import CompareOptions
    from .resume import DurableStore, ResumeInfo
    from .sinks import Sink
    from .sinks.warc import WarcSink
    from .stores.redis import RedisFrontier

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# What a shell reports for a tool that SIGPIPE ended: the reader of its output went away.
EXIT_BROKEN_PIPE = 141

# `crawler demo`: a comparison that takes about a minute on two cores.
DEMO_PAGES = 600
DEMO_LATENCY_MS = 50.0
DEMO_WIDTH = 64
# --warc-max-size: 1 GiB, Heritrix's and wget's order of size (crawler.sinks.warc.DEFAULT_MAX_SIZE).
DEFAULT_WARC_SIZE = 1024**3


class UsageError(Exception):
    """A mistake on the command line, reported in one line."""


class CommandFailed(Exception):
    """A command that could not do its job (a measured run failed), reported in one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage plus a message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# Flags that map one-to-one onto config settings: flag dest -> setting name.
_SETTING_FLAGS = (
    "mode", "workers", "concurrency", "per_host", "delay", "max_pages", "max_depth", "timeout", "time_limit",
    "max_body_bytes", "max_redirects", "retries", "parse_workers", "user_agent", "ca_file", "auth", "proxy",
)
# Repeatable flags that each set a list setting: flag dest -> setting name.
_LIST_FLAGS = (("allow_domain", "allow_domains"), ("include", "include"), ("exclude", "exclude"),
               ("header", "headers"), ("cookie", "cookies"), ("no_proxy", "no_proxy"))
# Switches: flag dest -> (setting name, the value the flag sets).
_SWITCHES = {
    "no_robots": ("respect_robots", False), "follow_nofollow": ("follow_nofollow", True),
    "sitemaps": ("sitemaps", True), "allow_private": ("allow_private_addresses", True),
    "insecure": ("verify_tls", False), "netrc": ("netrc", True), "cookies_jar": ("cookie_jar", True),
    "no_env_proxy": ("proxy_from_env", False),
}
# How a default of None reads in --help.
_NONE_MEANS = {"parse_workers": "one per CPU", "ca_file": "the system's CAs", "auth": "none", "proxy": "none"}
_DEFAULTS = CrawlConfig()


def _default(setting: str, width: bool = False) -> str:
    """'(default: X)' for a setting's built-in default; width: comparisons use the sweep or 64 instead."""
    value = getattr(_DEFAULTS, setting)
    shown = _NONE_MEANS.get(setting, "no limit") if value is None else value
    if isinstance(value, bool):
        shown = "on" if value else "off"
    return f"(default: {shown}{'; 64 in a comparison of the demo' if width else ''})"


def _add_crawl_options(parser: argparse.ArgumentParser, *, one_mode: bool = True, demo: bool = False) -> None:
    """The options shared by commands that crawl (one_mode: --mode and -o, for a single crawl).

    Each help ends with the built-in default (demo: the demo comparison's own widths).
    """
    add = parser.add_argument
    if one_mode:
        add("--mode", choices=MODES, help=f"how pages are fetched {_default('mode')}")
    add("-w", "--workers", type=int, metavar="N",
        help=f"threads or processes (threaded, process modes) {_default('workers', demo)}")
    add("-c", "--concurrency", type=int, metavar="N",
        help=f"requests in flight at once (async) {_default('concurrency', demo)}")
    add("--per-host", type=int, metavar="N", help=f"requests in flight at once per host {_default('per_host')}"
        + ("; a comparison of the demo: the width" if not one_mode or demo else ""))
    add("--delay", type=float, metavar="S", help=f"minimum seconds between requests to one host {_default('delay')}")
    add("--max-pages", type=int, metavar="N", help=f"stop after fetching N pages {_default('max_pages')}")
    add("--max-depth", type=int, metavar="N", help=f"follow links at most N hops from a seed {_default('max_depth')}")
    add("--timeout", type=float, metavar="S", help=f"total seconds allowed for one request {_default('timeout')}")
    add("--time-limit", type=float, metavar="S", help=f"stop starting requests after S seconds {_default('time_limit')}")
    add("--max-body-bytes", type=int, metavar="B", help=f"stop reading a body past B bytes {_default('max_body_bytes')}")
    add("--max-redirects", type=int, metavar="N",
        help=f"follow at most N redirects per URL {_default('max_redirects')}")
    add("--retries", type=int, metavar="N", help=f"retries for timeouts, resets, 429 and 5xx {_default('retries')}")
    add("--parse-workers", type=int, metavar="N",
        help=f"parse processes, 0 to parse inline {_default('parse_workers')}")
    add("--user-agent", metavar="UA", help=f"the User-Agent header and robots.txt name {_default('user_agent')}")
    add("--no-robots", action="store_true", help="ignore robots.txt (default: obey it)")
    add("--follow-nofollow", action="store_true",
        help=f"follow rel=nofollow and meta nofollow links {_default('follow_nofollow')}")
    add("--sitemaps", action="store_true", help=f"also crawl the pages the sites' sitemaps list {_default('sitemaps')}")
    add("--allow-domain", action="append", metavar="DOMAIN",
        help="also crawl this domain (repeatable; default: the seeds' hosts only)")
    add("--allow-private", action="store_true", help="let hosts other than the seeds' be private, loopback or "
                                                     f"link-local addresses {_default('allow_private_addresses')}")
    add("--ca-file", metavar="PEM", help=f"trust these CA certificates instead of the system's {_default('ca_file')}")
    add("--insecure", action="store_true", help="do not verify HTTPS certificates (default: verify them)")
    add("--include", action="append", metavar="REGEX", help="only crawl URLs matching (repeatable; default: all)")
    add("--exclude", action="append", metavar="REGEX", help="never crawl URLs matching (repeatable; default: none)")
    _add_request_options(parser)
    add("--config", metavar="FILE", help="a TOML config file; flags override it (default: none)")
    if one_mode:
        add("-o", "--output", metavar="FILE", help="write JSON Lines records to FILE, '-' for stdout "
                                                   "(default: none)")
    add("-q", "--quiet", action="store_true", help="no progress display and no summary (default: off)")


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    """What requests carry and where they go (see crawler.outbound)."""
    add = parser.add_argument
    add("-H", "--header", action="append", metavar="'NAME: VALUE'",
        help="send this header with every request; Authorization and Cookie to the seeds' sites only "
             "(repeatable; default: none)")
    add("--cookie", action="append", metavar="NAME=VALUE",
        help="send this cookie to the seeds' sites only (repeatable; default: none)")
    add("--auth", metavar="USER:PASSWORD", help=f"HTTP Basic auth for the seeds' sites only {_default('auth')}")
    add("--netrc", action="store_true",
        help=f"Basic auth for the seeds' sites from ~/.netrc (or $NETRC) {_default('netrc')}")
    add("--cookies", dest="cookies_jar", action="store_true",
        help=f"keep the cookies sites set, each host's for that host only {_default('cookie_jar')}")
    add("--proxy", metavar="URL",
        help="send every request through this http:// or https:// proxy (default: $http_proxy, $https_proxy)")
    add("--no-proxy", action="append", metavar="HOSTS",
        help="hosts, domains or address ranges to reach directly (repeatable, comma-separated; default: $no_proxy)")
    add("--no-env-proxy", action="store_true", help="ignore the *_proxy environment variables (default: off)")


def _add_compare_options(parser: argparse.ArgumentParser, report: str) -> None:
    """Where a comparison's report goes and how often each mode runs."""
    add = parser.add_argument
    add("--repeat", type=int, default=1, metavar="R",
        help="runs per mode, interleaved; medians are reported (default: 1)")
    add("--report", default=report, metavar="DIR", help=f"directory for report.json, report.md and charts "
                                                        f"(default: {report})")


def _add_site_shape(parser: argparse.ArgumentParser, pages_flag: str, pages: int) -> None:
    """The demo site's size, latency and parse cost."""
    add = parser.add_argument
    add(pages_flag, dest="site_pages", type=int, default=pages, metavar="N",
        help=f"pages on the demo site (default: {pages})")
    add("--latency-ms", type=float, default=DEMO_LATENCY_MS, metavar="MS",
        help=f"the demo site's latency (default: {DEMO_LATENCY_MS:g})")
    add("--page-kb", default="30,60", metavar="MIN,MAX", help="demo page sizes in KiB (default: 30,60)")
    add("--links", default="40,80", metavar="MIN,MAX", help="links per demo page (default: 40,80)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = _Parser(prog="crawler", description="A fast, polite asyncio link crawler.")
    parser.add_argument("--version", action="version", version=f"crawler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    crawl = commands.add_parser("crawl", help="crawl from seed URLs")
    crawl.add_argument("urls", nargs="*", metavar="URL", help="seed URLs (default: none; give some or --seeds-file; "
                                                              "with a Redis --state, none joins the crawl's seeds)")
    crawl.add_argument("--seeds-file", metavar="FILE", help="a file of seed URLs, one per line (default: none)")
    crawl.add_argument("--state", metavar="DIR|URL",
                       help="keep the crawl in DIR, the same command resumes it; or share it with other workers in "
                            "Redis: redis://HOST:PORT/DB with --crawl-id (default: none, in memory)")
    crawl.add_argument("--fresh", action="store_true",
                       help="with --state DIR: forget the saved crawl, start over (default: off)")
    _add_shared_options(crawl)
    crawl.add_argument("--warc", metavar="DIR", help="also write every exchange as WARC files in DIR (default: none)")
    crawl.add_argument("--warc-max-size", type=_size, default=DEFAULT_WARC_SIZE, metavar="SIZE",
                       help="start a new WARC file past SIZE bytes, suffix K, M or G (default: 1G)")
    crawl.add_argument("--warc-outlinks", action="store_true",
                       help="with --warc: a metadata record of each page's outlinks, as Heritrix writes (default: off)")
    _add_crawl_options(crawl)

    _add_check_parser(commands)
    _add_shared_parsers(commands)

    compare = commands.add_parser("compare", help="run the same crawl in each mode and compare them")
    compare.add_argument("url", nargs="?", metavar="URL", help="the seed URL (or --demo)")
    compare.add_argument("--modes", default=",".join(MODES), metavar="LIST",
                         help=f"modes to compare (default: {','.join(MODES)})")
    compare.add_argument("--sweep", metavar="N,N,...", help="throughput at each workers/concurrency value (default: none)")
    compare.add_argument("--demo", action="store_true", help="compare on the bundled demo site, offline (default: off)")
    compare.add_argument("--workload", choices=WORKLOADS, default="links",
                         help="links: extract links only; soup: also scrape every page with BeautifulSoup, "
                              "as a page hook would (default: %(default)s)")
    _add_compare_options(compare, "compare-report")
    _add_site_shape(compare, "--demo-pages", DEMO_PAGES)
    _add_crawl_options(compare, one_mode=False, demo=True)

    demo = commands.add_parser("demo", help="compare the four modes on the bundled demo site, offline")
    demo.add_argument("--modes", default=",".join(MODES), metavar="LIST",
                      help=f"modes to compare (default: {','.join(MODES)})")
    demo.add_argument("--workload", choices=(*WORKLOADS, "both"), default="both",
                      help="links (I/O-bound), soup (CPU-bound) or both, one after the other "
                           "(default: %(default)s)")
    _add_compare_options(demo, "compare-report")
    _add_site_shape(demo, "--pages", DEMO_PAGES)
    _add_crawl_options(demo, demo=True)

    site = commands.add_parser("demo-site", help="serve the bundled demo site")
    site.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    site.add_argument("--port", type=int, default=0, help="0 picks a free port (default: %(default)s)")
    site.add_argument("--pages", type=int, default=2000, help="pages on the site (default: %(default)s)")
    site.add_argument("--latency-ms", type=float, default=0.0, help="each answer's delay (default: %(default)s)")
    site.add_argument("--seed", type=int, default=1, help="the seed the site is generated from (default: %(default)s)")
    return parser


def _add_shared_options(parser: argparse.ArgumentParser) -> None:
    """--crawl-id and --lease-timeout: a worker of a crawl shared through Redis."""
    parser.add_argument("--crawl-id", metavar="NAME",
                        help="with --state redis://: the shared crawl's name; every worker given it works on it "
                             "(default: none)")
    parser.add_argument("--lease-timeout", type=float, metavar="S",
                        help="with --state redis://: seconds the requests a worker claimed stay its own "
                             "unless it renews them, before other workers take them over (default: 30)")


def _add_shared_parsers(commands: Any) -> None:
    """crawler export and crawler status: a crawl shared through Redis, read by any machine."""
    export = commands.add_parser("export", help="write every record of a crawl shared through Redis, once each")
    status = commands.add_parser("status", help="show a crawl shared through Redis: its queue and live workers")
    for parser in (export, status):
        parser.add_argument("--state", required=True, metavar="URL",
                            help="the Redis the crawl is in: redis://HOST:PORT/DB")
        parser.add_argument("--crawl-id", required=True, metavar="NAME", help="the shared crawl's name")
    export.add_argument("-o", "--output", default="-", metavar="FILE",
                        help="write the records as JSON Lines to FILE, in commit order (default: -, stdout)")
    status.add_argument("--json", action="store_true", help="one JSON object instead of tables (default: off)")


def _add_check_parser(commands: Any) -> None:
    """crawler check: the crawl's options, plus what to check and how to report it."""
    check = commands.add_parser("check", help="crawl a site and report its broken links (exit 1 if any)")
    add = check.add_argument
    add("urls", nargs="*", metavar="URL", help="seed URLs: the site(s) to check")
    add("--seeds-file", metavar="FILE", help="a file of seed URLs, one per line")
    add("--no-external", action="store_true", help="do not check links to other hosts")
    add("--check-fragments", action="store_true", help="also check that page#anchor names an anchor on the page")
    add("--format", choices=("text", "json", "markdown", "junit"), default="text",
        help="the report's format (default text)")
    add("-o", "--output", metavar="FILE", help="write the report to FILE (default stdout)")
    add("--mode", choices=MODES, help="how pages are fetched (default async)")
    add("--state", metavar="DIR", help="keep the check in DIR; the same command resumes it")
    add("--fresh", action="store_true", help="with --state: forget the saved check, start over")
    _add_crawl_options(check, one_mode=False)


def config_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> CrawlConfig:
    """The config file's settings overridden by defaults, then by the flags given."""
    overrides: dict[str, Any] = dict(defaults or {})
    overrides |= {name: getattr(args, name) for name in _SETTING_FLAGS if getattr(args, name, None) is not None}
    overrides |= {setting: value for flag, (setting, value) in _SWITCHES.items() if getattr(args, flag)}
    for flag, setting in _LIST_FLAGS:
        if getattr(args, flag):
            overrides[setting] = tuple(getattr(args, flag))
    if args.no_proxy:  # curl's --noproxy takes a comma-separated list
        overrides["no_proxy"] = tuple(h.strip() for v in args.no_proxy for h in v.split(",") if h.strip())
    return load_config(args.config, overrides)


def read_seeds(urls: Sequence[str], seeds_file: str | None) -> list[str]:
    """The seed URLs from the command line and the seeds file, each checked."""
    seeds = list(urls)
    if seeds_file:
        try:
            lines = Path(seeds_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read seeds file {seeds_file}: {exc.strerror}") from None
        seeds += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not seeds:
        raise UsageError("no seed URLs: give at least one URL or --seeds-file")
    for seed in seeds:
        if normalize_url(seed) is None:
            raise UsageError(f"not a crawlable http(s) URL: {seed!r}")
    return seeds


async def crawl_with_display(config: CrawlConfig, seeds: list[str], output: str | None,
                             quiet: bool, store: DurableStore | None = None,
                             resume: ResumeInfo | None = None, warc: WarcSink | None = None, *,
                             sink: Sink | None = None, joining: str | None = None) -> int:
    """Run a crawl with a live progress line and a summary; handle Ctrl-C gracefully.

    Records go to sink if given, else to output (see open_sink). joining: the name
    of a crawl shared through Redis, which this worker joins rather than resumes.
    """
    from .api import Crawler
    from .display import show_progress, stderr, summary_table
    from .sinks import open_sink

    crawler = Crawler(config, sink=sink or open_sink(output), store=store, warc=warc)
    if resume is not None and not await _goes_on(crawler, resume, joining):
        return 0
    note = None if quiet else per_host_note(config, seeds)
    if note:
        print(note, file=sys.stderr)
    interrupted = _install_interrupt(crawler)
    started = time.monotonic()
    before = resume.done if resume is not None else 0  # a resumed or joined crawl's rate is this run's
    progress = None if quiet else asyncio.create_task(show_progress(crawler.statistics, started, before))
    try:
        async with crawler:
            async for _ in crawler.crawl(seeds):
                pass
    except asyncio.CancelledError:
        if len(interrupted) < 2:
            raise  # not the second Ctrl-C's doing
        hint = "; rerun to resume" if store is not None else ""
        print(f"interrupted again: stopped at once, the last records may be missing from the output{hint}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if progress is not None:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
    if not quiet:
        stderr.print(summary_table(crawler.statistics(), time.monotonic() - started, before=before))
    if unreachable := crawler.statistics().robots_unreachable:
        hosts, its = ("1 host", "its") if unreachable == 1 else (f"{unreachable:,} hosts", "their")
        print(f"note: the robots.txt of {hosts} could not be fetched (no answer, or 5xx/429, through every "
              f"retry): none of {its} pages were crawled, as RFC 9309 asks; --no-robots crawls them anyway",
              file=sys.stderr)
    if interrupted:
        hint = "; rerun to resume" if store is not None else ""
        stderr.print(f"interrupted: output is complete up to the last record written{hint}")
        return EXIT_INTERRUPTED
    return 0


async def _goes_on(crawler: Crawler, resume: ResumeInfo, joining: str | None) -> bool:
    """Repair the output from the saved crawl, then say whether it goes on and how far it got."""
    await crawler.repair()
    if resume.finished:
        await crawler.sink.close()
        again = "another --crawl-id starts over" if joining else "--fresh starts over"
        print(f"crawl already finished: {resume.done} pages; {again}", file=sys.stderr)
        return False
    if resume.resumed:
        going_on = f"joining crawl {joining!r}" if joining else "resuming"
        print(f"{going_on}: {resume.done} done, {resume.pending} pending", file=sys.stderr)
    return True


def per_host_note(config: CrawlConfig, seeds: Sequence[str]) -> str | None:
    """A note that a crawl of one host is held to per_host requests at once, when a set width is above it.

    Only for a width set by the user: the built-in -c 16 over --per-host 8 is the polite default.
    """
    width_flag, width = {"sync": ("", 1), "async": ("-c", config.concurrency)}.get(
        config.mode, ("-w", config.workers))
    if width <= config.per_host or width == getattr(_DEFAULTS, "concurrency" if width_flag == "-c" else "workers"):
        return None
    hosts = {canonical_hostname(normalize_url(seed) or seed) for seed in seeds}
    if len(hosts) != 1 or config.allow_domains:
        return None
    return (f"note: {hosts.pop()} is the only host, and at most {config.per_host} requests run at once per host "
            f"(--per-host {config.per_host}), so {width_flag} {width} cannot all be used; raise --per-host to use them")


def _install_interrupt(crawler: Crawler) -> list[bool]:
    """First Ctrl-C stops gracefully; a second one cancels at once. Returns the 'was interrupted' flag."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    flag: list[bool] = []

    def on_signal() -> None:
        if flag and task is not None:
            task.cancel()
        flag.append(True)
        crawler.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    return flag


def _cmd_crawl(args: argparse.Namespace) -> int:
    """crawler crawl URL..."""
    from .shared import is_shared

    config = config_from_args(args)
    _check_output("-o", args.output)
    _check_directory("--warc", args.warc)
    if args.warc is not None:
        config = config.replace(capture=True)
    if is_shared(args.state):
        return _crawl_shared(args, config)
    if args.crawl_id is not None or args.lease_timeout is not None:
        raise UsageError(f"{'--crawl-id' if args.crawl_id is not None else '--lease-timeout'} "
                         "needs --state redis://HOST:PORT/DB")
    seeds = read_seeds(args.urls, args.seeds_file)
    if args.state is not None:
        _check_directory("--state", args.state)
        return _crawl_with_state(args, config, seeds, args.output)
    if args.fresh:
        raise UsageError("--fresh needs --state DIR")
    return asyncio.run(crawl_with_display(config, seeds, args.output, args.quiet,
                                          warc=_warc_sink(args, config)))


def _check_output(flag: str, path: str | None) -> None:
    """Refuse, before any crawl, an output file that cannot be made: '-' and None are stdout and none."""
    if path is None or path == "-":
        return
    if Path(path).is_dir():
        raise UsageError(f"{flag} {path}: is a directory, not a file")
    if not Path(path).parent.is_dir():
        raise UsageError(f"{flag} {path}: no such directory")


def _check_directory(flag: str, path: str | None) -> None:
    """Refuse, before any crawl, a directory flag that names a file (a missing directory is made)."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise UsageError(f"{flag} {path}: is a file, not a directory")


def _warc_sink(args: argparse.Namespace, config: CrawlConfig) -> WarcSink | None:
    """The WARC output --warc asks for, its warcinfo naming the crawl's settings."""
    if getattr(args, "warc", None) is None:  # crawler check has no --warc
        return None
    from .sinks.warc import WarcSink

    # Settings that may hold secrets (headers, cookies, auth, proxy) are kept out of repr: and out of here.
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.repr}
    info = {"robots": "obey" if config.respect_robots else "ignore",
            "http-header-user-agent": config.user_agent,
            "crawler-settings": json.dumps(settings, separators=(",", ":"))}
    return WarcSink(args.warc, max_size=args.warc_max_size, info=info, outlinks=args.warc_outlinks)


def _size(text: str) -> int:
    """A size in bytes: a whole number, optionally followed by K, M or G (powers of 1024)."""
    number, unit = text.strip()[:-1], text.strip()[-1:].upper()
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(unit)
    if scale is None:
        number, scale = text.strip(), 1
    try:
        size = int(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 1G, 500M or bytes)") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return size


def _crawl_with_state(args: argparse.Namespace, config: CrawlConfig, seeds: list[str],
                      output: str | None) -> int:
    """--state DIR: continue the crawl saved in DIR (repairing the output), or start it there."""
    from .resume import begin
    from .stores.sqlite import SqliteFrontier

    try:
        with SqliteFrontier(args.state, fresh=args.fresh) as store:
            info = begin(store, seeds, config)
            return asyncio.run(crawl_with_display(config, seeds, output, args.quiet, store, info,
                                                  _warc_sink(args, config)))
    except BrokenPipeError:
        raise  # the reader of -o - has what it wants: main() ends quietly
    except (sqlite3.Error, OSError) as exc:  # a full disk, say: SQLite kept its last commit
        raise CommandFailed(f"{_describe(exc)}; what was saved is kept: the same command resumes "
                            "once that is fixed") from None


def _crawl_shared(args: argparse.Namespace, config: CrawlConfig) -> int:
    """--state redis://...: work on the shared crawl with every other worker given the same --crawl-id.

    Without seed URLs the worker joins the crawl's own; --time-limit counts from the
    crawl's first worker; -o holds this worker's records (crawler export has them all).
    """
    from .resume import begin
    from .shared import require_crawl
    from .sinks import open_sink

    if args.fresh:
        raise UsageError("--fresh cannot restart a crawl other workers share: use another --crawl-id")
    if args.warc is not None:  # its files would hold records the crawl refused, and no resume repairs them
        raise UsageError("--warc is not offered with --state redis:// yet")
    if args.lease_timeout is not None and not 0 < args.lease_timeout < math.inf:  # nan fails this too
        raise UsageError("--lease-timeout must be a positive number of seconds")
    given = args.urls or args.seeds_file
    seeds = read_seeds(args.urls, args.seeds_file) if given else []
    store = _shared_store(args, lease_timeout=args.lease_timeout, max_pages=config.max_pages,
                          batch=max(config.concurrency, config.workers))
    try:
        if not given:
            require_crawl(store, "give seed URLs to start it")
            seeds = store.seeds()
        info = begin(store, seeds, config)
        seeds = store.seeds()  # every worker's, with these: the scope covers each site of the crawl
        left = store.time_left(config.time_limit)
        if left == 0:
            print(f"crawl {args.crawl_id!r} is past its --time-limit: nothing to do", file=sys.stderr)
            return 0
        config = config.replace(time_limit=left)
        return asyncio.run(crawl_with_display(config, seeds, None, args.quiet, store, info,
                                              sink=open_sink(args.output, append=True), joining=args.crawl_id))
    finally:
        store.close()


def _shared_store(args: argparse.Namespace, **options: Any) -> RedisFrontier:
    """The store of the shared crawl --state and --crawl-id name (checked first: one line each).

    options: crawler.shared.connect's (join=False for export and status, which only read).
    """
    from .shared import connect

    if not args.crawl_id:
        raise UsageError("--state redis://... needs --crawl-id NAME: the shared crawl's name")
    if "{" in args.crawl_id or "}" in args.crawl_id:  # its keys use the name as a Redis Cluster hash tag
        raise UsageError(f"--crawl-id cannot hold {{ or }}: {args.crawl_id!r}")
    return connect(args.state, args.crawl_id, **options)


def _cmd_export(args: argparse.Namespace) -> int:
    """crawler export --state redis://... --crawl-id NAME: every saved record once, in commit order."""
    from .shared import export, require_crawl

    _check_output("-o", args.output)
    store = _shared_reader(args)
    try:
        require_crawl(store)
        count = export(store.crawl_records(), args.output)
    finally:
        store.close()
    if args.output != "-":
        print(f"exported {count:,} records of crawl {args.crawl_id!r} to {args.output}", file=sys.stderr)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    """crawler status --state redis://... --crawl-id NAME: queued, leased, done, errors and each live worker."""
    from rich.console import Console

    from .shared import require_crawl, status_document, status_tables

    store = _shared_reader(args)
    try:
        require_crawl(store)
        document = status_document(args.crawl_id, store.status())
    finally:
        store.close()
    if args.json:
        print(json.dumps(document, separators=(",", ":")))
    else:
        Console(highlight=False).print(*status_tables(document))
    return 0


def _shared_reader(args: argparse.Namespace) -> RedisFrontier:
    """The shared crawl export and status read: --state must name a Redis."""
    from .shared import is_shared

    if not is_shared(args.state):
        raise UsageError(f"--state must be a Redis URL (redis://HOST:PORT/DB), not {args.state!r}")
    return _shared_store(args, join=False)


def _cmd_demo(args: argparse.Namespace) -> int:
    """crawler demo: compare the modes on the demo site; with --mode, one crawl of it with progress."""
    if args.mode is None:
        if args.output is not None:
            raise UsageError("-o needs --mode: a comparison writes a report (--report DIR), not records")
        workloads = WORKLOADS if args.workload == "both" else (args.workload,)
        return _compare(args, None, {"workers": DEMO_WIDTH, "concurrency": DEMO_WIDTH}, workloads)
    from .demo import DemoSite
    from .display import stderr

    config = config_from_args(args)
    _check_output("-o", args.output)
    spec = _demo_spec(args)

    async def run() -> int:
        async with DemoSite(spec) as site:
            if not args.quiet:
                stderr.print(f"demo site with {spec.pages} pages at {site.url} ({spec.latency_ms:g} ms latency)")
            return await crawl_with_display(config, [site.url], args.output, args.quiet)

    return asyncio.run(run())


def _cmd_compare(args: argparse.Namespace) -> int:
    """crawler compare URL | --demo"""
    if bool(args.url) == args.demo:
        raise UsageError("give a URL or --demo (not both)")
    if args.url and normalize_url(args.url) is None:
        raise UsageError(f"not a crawlable http(s) URL: {args.url!r}")
    return _compare(args, args.url, {}, (args.workload,))


def _compare(args: argparse.Namespace, url: str | None, defaults: dict[str, int],
             workloads: Sequence[str]) -> int:
    """Run a comparison per workload on url, or on a demo site started in a child process when url is None.

    With several workloads each report goes to a directory of its own under --report,
    and a closing line per workload says what it teaches.
    """
    from .compare import CompareError, run_compare
    from .demo import DemoSiteProcess
    from .display import stderr

    spec = _demo_spec(args) if url is None else None
    options = _compare_options(args, url or "", defaults, spec)
    _check_directory("--report", args.report)
    report = Path(args.report)
    directories = {w: report / w if len(workloads) > 1 else report for w in workloads}
    try:
        with contextlib.ExitStack() as stack:
            if spec is not None:
                site = stack.enter_context(DemoSiteProcess(spec))
                options = dataclasses.replace(options, url=site.url)
                if not args.quiet:
                    stderr.print(f"demo site: {spec.pages:,} pages, {spec.latency_ms:g} ms latency, "
                                 f"at {site.url} (in its own process)")
            codes = []
            for workload in workloads:
                if len(workloads) > 1 and not args.quiet:
                    stderr.print(f"\n[bold]workload {workload}[/bold]: {_WORKLOAD_TITLES[workload]}")
                codes.append(run_compare(dataclasses.replace(options, workload=workload),
                                         directories[workload], args.quiet))
    except CompareError as exc:
        raise CommandFailed(str(exc)) from None
    if len(workloads) > 1 and not args.quiet:
        _print_lessons(directories)
    return max(codes)


_WORKLOAD_TITLES = {"links": "extract each page's links (I/O-bound)",
                    "soup": "also build and search each page's BeautifulSoup document, as a scraper does (CPU-bound)"}


def _print_lessons(directories: dict[str, Path]) -> None:
    """What each workload's figures teach, a sentence each, and where their reports are."""
    import json

    from rich.console import Console

    from .report import lesson

    stdout = Console(highlight=False)
    if not stdout.is_terminal:
        stdout = Console(highlight=False, soft_wrap=True)  # a file or a pipe: a line per sentence

    stdout.print("\n[bold]What the two workloads teach[/bold]")
    for directory in directories.values():
        document = json.loads((directory / "report.json").read_text(encoding="utf-8"))
        stdout.print(f"• {lesson(document)}")
    stdout.print("Reports and charts: " + ", ".join(str(d / "report.md") for d in directories.values()))


def _compare_options(args: argparse.Namespace, url: str, defaults: dict[str, int],
                     spec: DemoSpec | None) -> CompareOptions:
    """The comparison the flags ask for."""
    from .compare import mode_list
    from .figures import CompareOptions

    config = config_from_args(args, defaults)
    sweep = _int_list(args.sweep, "--sweep") if getattr(args, "sweep", None) else ()
    if args.repeat < 1:
        raise UsageError("--repeat must be positive")
    try:
        modes = mode_list(args.modes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if spec is None:
        return CompareOptions(url=url, config=config, modes=modes, repeat=args.repeat, sweep=sweep)
    if args.per_host is None:
        # One host serves the whole demo: a per-host cap below the width would hide every difference.
        config = config.replace(per_host=max(config.workers, config.concurrency, *sweep))
    return CompareOptions(url=url, config=config, modes=modes, repeat=args.repeat, sweep=sweep,
                          latency_ms=spec.latency_ms, settings={"demo": dataclasses.asdict(spec)})


def _demo_spec(args: argparse.Namespace) -> DemoSpec:
    """The demo site the flags describe."""
    from .demo import DemoSpec

    min_kb, max_kb = _int_pair(args.page_kb, "--page-kb")
    min_links, max_links = _int_pair(args.links, "--links")
    try:
        return DemoSpec(pages=args.site_pages, latency_ms=args.latency_ms, min_kb=min_kb, max_kb=max_kb,
                        min_links=min_links, max_links=max_links)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    """Positive integers from 'N,N,...', sorted and without repeats."""
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated positive integers, not {text!r}") from None
    if not values or values[0] < 1:
        raise UsageError(f"{flag} takes comma-separated positive integers, not {text!r}")
    return tuple(values)


def _int_pair(text: str, flag: str) -> tuple[int, int]:
    """MIN,MAX as two integers."""
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} takes MIN,MAX, two integers, not {text!r}") from None
    return low, high


def _cmd_demo_site(args: argparse.Namespace) -> int:
    """crawler demo-site: serve the demo site until interrupted."""
    from .demo import DemoSpec, serve_forever

    if args.pages < 1 or not 0 <= args.latency_ms < math.inf or not 0 <= args.port <= 65535:
        raise UsageError("--pages must be positive, --latency-ms a number 0 or more, --port 0-65535")
    spec = DemoSpec(pages=args.pages, latency_ms=args.latency_ms, seed=args.seed)
    serve_forever(spec, args.host, args.port, on_ready=lambda url: print(url, flush=True))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """crawler check URL...: a crawl that checks every link; exit 1 when one is broken (see crawler.check)."""
    from .check import command as check
    from .shared import is_shared

    config = config_from_args(args, check.check_settings(args.no_external, args.check_fragments))
    seeds = read_seeds(args.urls, args.seeds_file)
    _check_output("-o", args.output)
    if is_shared(args.state):
        raise UsageError("crawler check keeps its state in a directory: --state DIR (a Redis is for crawler crawl)")
    _check_directory("--state", args.state)
    started = time.monotonic()
    builder = check.ReportBuilder(check_fragments=config.check_fragments)
    if args.state is not None:
        records = check.records_path(args.state)  # a resumed check reports on the records of every run
        code = _crawl_with_state(args, config, seeds, str(records))
        builder.add_all(check.read_records(records))
    elif args.fresh:
        raise UsageError("--fresh needs --state DIR")
    else:
        code = asyncio.run(crawl_with_display(config, seeds, None, args.quiet, sink=check.ReportSink(builder)))
    report = builder.build()
    check.write_report(report, args.format, args.output, time.monotonic() - started)
    return code if code == EXIT_INTERRUPTED else check.exit_code(report)


COMMANDS = {"crawl": _cmd_crawl, "check": _cmd_check, "compare": _cmd_compare, "demo": _cmd_demo,
            "demo-site": _cmd_demo_site, "export": _cmd_export, "status": _cmd_status}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crawler`` command; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, StateError, OutputError) as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the crawl's own handler is in place, or after it is gone
        print("crawler: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `crawler crawl URL -o - | head`: the reader has all it wants; stop without a word.
        # stdout now points nowhere, so the final flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (OSError, CommandFailed) as exc:
        print(f"crawler: error: {_describe(exc)}", file=sys.stderr)
        return 1


def _describe(exc: Exception) -> str:
    """One line for a failure: an OS error by its file and reason, a database error as itself."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, sqlite3.Error):
        return f"state database: {exc}"
    return str(exc)

"""crawler: an asyncio link crawler, and a tool that measures what async buys.

Library use::

    import crawler

    async with crawler.Crawler(max_pages=50) as c:
        async for page in c.crawl("https://example.org/"):
            print(page.status, page.url, page.title)

    pages = crawler.crawl("https://example.org/", max_pages=50)   # blocking

Public names load on first use (PEP 562): a parse-pool worker that needs only
``crawler.parsing`` then starts without importing aiohttp, bs4 and the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# Each public name and the module that defines it.
_EXPORTS = {
    "ConfigError": "config",
    "CrawlConfig": "config",
    "CrawlCore": "core",
    "CrawlRequest": "models",
    "CrawlStats": "core",
    "Crawler": "api",
    "ErrorInfo": "models",
    "FetchResult": "models",
    "Follow": "hooks",
    "FrontierStore": "frontier",
    "JsonLinesSink": "sinks",
    "MemoryFrontier": "stores.memory",
    "NullSink": "sinks",
    "PageHook": "hooks",
    "PageRecord": "models",
    "ParseResult": "models",
    "RedisFrontier": "stores.redis",
    "Sink": "sinks",
    "SqliteFrontier": "stores.sqlite",
    "StateError": "stores.sqlite",
    "StdoutSink": "sinks",
    "WarcSink": "sinks.warc",
    "crawl": "api",
    "in_crawl_process": "hooks",
    "load_config": "config",
}

__all__ = [
    "ConfigError",
    "CrawlConfig",
    "CrawlCore",
    "CrawlRequest",
    "CrawlStats",
    "Crawler",
    "ErrorInfo",
    "FetchResult",
    "Follow",
    "FrontierStore",
    "JsonLinesSink",
    "MemoryFrontier",
    "NullSink",
    "PageHook",
    "PageRecord",
    "ParseResult",
    "RedisFrontier",
    "Sink",
    "SqliteFrontier",
    "StateError",
    "StdoutSink",
    "WarcSink",
    "__version__",
    "crawl",
    "in_crawl_process",
    "load_config",
]

if TYPE_CHECKING:
    from .api import Crawler, crawl
    from .config import ConfigError, CrawlConfig, load_config
    from .core import CrawlCore, CrawlStats
    from .frontier import FrontierStore
    from .hooks import Follow, PageHook, in_crawl_process
    from .models import CrawlRequest, ErrorInfo, FetchResult, PageRecord, ParseResult
    from .sinks import JsonLinesSink, NullSink, Sink, StdoutSink
    from .sinks.warc import WarcSink
    from .stores.memory import MemoryFrontier
    from .stores.redis import RedisFrontier
    from .stores.sqlite import SqliteFrontier, StateError


def __getattr__(name: str) -> Any:
    """Import a public name from its module when it is first asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own attributes."""
    return sorted({*globals(), *_EXPORTS})

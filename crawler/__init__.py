"""crawler: an asyncio link crawler, and a tool that measures what async buys.

Library use::

    import crawler

    async with crawler.Crawler(max_pages=50) as c:
        async for page in c.crawl("https://example.org/"):
            print(page.status, page.url, page.title)

    pages = crawler.crawl("https://example.org/", max_pages=50)   # blocking
"""

__version__ = "0.1.0"

from .api import Crawler, crawl  # noqa: E402
from .config import ConfigError, CrawlConfig, load_config  # noqa: E402
from .core import CrawlCore, CrawlStats  # noqa: E402
from .frontier import FrontierStore, MemoryFrontier  # noqa: E402
from .hooks import Follow, PageHook  # noqa: E402
from .models import CrawlRequest, ErrorInfo, FetchResult, PageRecord, ParseResult  # noqa: E402
from .sinks import JsonLinesSink, NullSink, Sink, StdoutSink  # noqa: E402
from .state import SqliteFrontier, StateError  # noqa: E402

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
    "Sink",
    "SqliteFrontier",
    "StateError",
    "StdoutSink",
    "__version__",
    "crawl",
    "load_config",
]

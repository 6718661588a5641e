"""The bundled synthetic demo site used by ``crawler demo``, the tests and the benchmarks.

See :mod:`crawler.demo.site`. Names are imported from it on first use (PEP 562)
so that ``python -m crawler.demo.site``, which :class:`DemoSiteProcess` runs,
does not find the module already imported and execute it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .site import (
        ROBOTS_TXT,
        STATS_PATH,
        DemoSite,
        DemoSiteError,
        DemoSiteProcess,
        DemoSpec,
        ServerStats,
        StatsSnapshot,
        add_spec_arguments,
        expected_urls,
        generate_pages,
        make_handler,
        page_path,
        serve_forever,
        spec_from_args,
        spec_to_argv,
    )

__all__ = [
    "ROBOTS_TXT",
    "STATS_PATH",
    "DemoSite",
    "DemoSiteError",
    "DemoSiteProcess",
    "DemoSpec",
    "ServerStats",
    "StatsSnapshot",
    "add_spec_arguments",
    "expected_urls",
    "generate_pages",
    "make_handler",
    "page_path",
    "serve_forever",
    "spec_from_args",
    "spec_to_argv",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the site module when it is first asked for."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import site

    return getattr(site, name)

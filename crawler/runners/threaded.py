"""The threaded driver: fetch + parse in a thread pool, results back as futures.

Only the calling thread talks to the core, so the frontier needs no lock. It
submits at most ``workers`` requests, so each one starts at once on a free
thread and the core's politeness clock (which counts a request as started when
it hands it out) matches what the server sees.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from ..fetchers import BlockingFetcher
from ..parsing import parser_for
from .blocking import PoolRunner
from .work import fetch_and_parse


class ThreadedRunner(PoolRunner):
    """Fetches and parses in a ThreadPoolExecutor of ``workers`` threads."""

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        # urllib3's PoolManager is thread-safe: one, with a connection per thread.
        with BlockingFetcher(self.config, maxsize=self.config.workers,
                             trusted_hosts=self.core.scope.hosts,
                             seed_origins=self.core.scope.origins) as fetcher:
            work = functools.partial(fetch_and_parse, fetcher, needs_parse=self.core.needs_parse,
                                     scraper=self._scraper, parse=parser_for(self.config))
            self._crawl(ThreadPoolExecutor(self.config.workers, thread_name_prefix="crawler"), work)

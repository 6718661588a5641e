"""The synchronous driver: one blocking fetch, then its parse, one page at a time."""

from __future__ import annotations

import time

from ..fetchers import BlockingFetcher
from ..parsing import parser_for
from .blocking import BlockingRunner
from .work import fetch_and_parse, idle_wait


class SyncRunner(BlockingRunner):
    """Fetches and parses one page at a time in the calling thread."""

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        with BlockingFetcher(self.config, maxsize=1, trusted_hosts=self.core.scope.hosts,
                             seed_origins=self.core.scope.origins) as fetcher:
            while not self.core.finished:
                request = self.core.next_request()
                if request is None:
                    self._flush()  # a dropped redirect target may be all that was left
                    if not self.core.finished:
                        time.sleep(idle_wait(self.core))
                    continue
                self._deliver(request, *fetch_and_parse(fetcher, request, self.core.needs_parse,
                                                        self._scraper, parser_for(self.config)))
        self._flush()

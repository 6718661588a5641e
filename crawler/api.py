"""The library API: an async iterator of pages, and a blocking convenience for scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TYPE_CHECKING, Any, Self

from .config import CrawlConfig, config_from_mapping
from .core import CrawlCore, CrawlStats
from .frontier import FrontierStore
from .hooks import PageHook
from .models import PageRecord
from .runners import run_crawl
from .sinks import Journal, NullSink, Sink
from .stores.memory import MemoryFrontier

if TYPE_CHECKING:
    from .sinks.warc import WarcSink  # imported by whoever makes one: warcio loads only then

_DONE = object()


class Crawler:
    """Crawls from seed URLs and yields a record per fetched URL.

    ::

        async with Crawler(max_pages=100) as crawler:
            async for page in crawler.crawl("https://example.org/"):
                print(page.status, page.url, page.title)
    """

    def __init__(self, config: CrawlConfig | None = None, *, sink: Sink | None = None,
                 on_page: PageHook | None = None, store: FrontierStore | None = None,
                 warc: WarcSink | None = None, **settings: Any) -> None:
        self.config = config_from_mapping(settings, base=config or CrawlConfig())
        if warc is not None and not self.config.capture:
            self.config = self.config.replace(capture=True)  # the fetchers keep what WARC needs
        self.sink: Sink = sink or NullSink()
        self.warc = warc
        self.on_page = on_page
        self.store: FrontierStore = store if store is not None else MemoryFrontier()
        self._own_store = store is None
        self._core: CrawlCore | None = None
        self._repaired = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()
        await self.sink.close()
        if self.warc is not None:
            await self.warc.close()

    async def repair(self) -> int:
        """Bring a durable sink back to the store's saved records after a crash; return how many it lacked.

        crawl() does this first; call it to repair without crawling. Nothing to do
        unless the store keeps a journal and the sink can repair itself from one.
        """
        repair = getattr(self.sink, "repair", None)
        if self._repaired or repair is None or not isinstance(self.store, Journal):
            return 0
        self._repaired = True
        return int(await repair(self.store))

    async def crawl(self, seeds: str | Iterable[str]) -> AsyncIterator[PageRecord]:
        """Crawl from seeds, writing each record to the sink and yielding it."""
        if self._core is not None and self._own_store:
            self.store = MemoryFrontier()  # each crawl of its own store starts afresh
        await self.repair()
        core = self._core = CrawlCore(self.config, self.store)
        if self.warc is not None:
            await self._journal(self.warc.start(_mark(self.store)))
        core.add_seeds([seeds] if isinstance(seeds, str) else seeds)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        # Every mode hands lists of records over on this loop; blocking ones run in a thread.
        task = asyncio.create_task(run_crawl(core, queue.put_nowait, self.on_page))
        task.add_done_callback(lambda _: queue.put_nowait(_DONE))
        try:
            async for batch in _batches(queue):
                if self.warc is not None:
                    # WARC records first, then their mark in the same commit as the records:
                    # a resume cuts whatever was written after the last mark saved.
                    _save_mark(self.store, await self.warc.write(batch))
                # A durable store saves records before the sink sees them, so a crash loses
                # no record it cannot write again (repair() writes it on the next run).
                batch = list(self.store.commit(batch))
                await _write(self.sink, batch)
                for record in batch:
                    yield record
            task.result()  # surface a driver failure instead of ending quietly
            if self.warc is not None and (leftover := core.leftover_exchanges()):
                await self._journal(self.warc.write((), leftover))
        finally:
            if not task.done():
                core.stop()
                await asyncio.wait({task})

    async def _journal(self, written: Awaitable[str]) -> None:
        """Wait for a WARC write, then make its mark durable with whatever the core did."""
        _save_mark(self.store, await written)
        self.store.commit()

    def stop(self) -> None:
        """Start no new requests; the crawl ends once in-flight ones settle."""
        if self._core is not None:
            self._core.stop()

    def statistics(self) -> CrawlStats:
        """A snapshot of the running (or last) crawl's counters."""
        return self._core.statistics() if self._core else CrawlStats()


def _mark(store: FrontierStore) -> str | None:
    """The WARC mark a durable store saved (a store that keeps none: None, a new output)."""
    saved = getattr(store, "mark", None)  # optional, see FrontierStore
    return saved("warc") if saved is not None else None


def _save_mark(store: FrontierStore, mark: str) -> None:
    """Have a durable store save the WARC mark with its next commit."""
    save = getattr(store, "save_mark", None)
    if save is not None:
        save("warc", mark)


async def _write(sink: Sink, records: list[PageRecord]) -> None:
    """Hand records to the sink: as one batch when it takes batches (see Sink)."""
    write_many = getattr(sink, "write_many", None)
    if write_many is not None:
        await write_many(records)
    else:
        for record in records:
            await sink.write(record)


async def _batches(queue: asyncio.Queue[Any]) -> AsyncIterator[list[PageRecord]]:
    """The queued lists of records in order, joined as many as have arrived (one commit each)."""
    while True:
        batch: list[PageRecord] = []
        item = await queue.get()
        while item is not _DONE:
            batch += item
            if queue.empty():
                break
            item = queue.get_nowait()
        if batch:
            yield batch
        if item is _DONE:  # put last, once the driver has emitted everything
            return


def crawl(seeds: str | Iterable[str], config: CrawlConfig | None = None, *,
          on_page: PageHook | None = None, **settings: Any) -> list[PageRecord]:
    """Crawl and return every record: the blocking convenience for scripts."""

    async def collect() -> list[PageRecord]:
        async with Crawler(config, on_page=on_page, **settings) as crawler:
            return [record async for record in crawler.crawl(seeds)]

    return asyncio.run(collect())

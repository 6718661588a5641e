"""Measure what parsing one HTML page costs, and what offloading it to a process pool costs.

Compares BeautifulSoup (html.parser, lxml, lxml + SoupStrainer) with the lxml hot path
``crawler.parsing.parse_page``, then times ``loop.run_in_executor(ProcessPoolExecutor, ...)``
round trips against parsing inline on the event loop.  Every approach gets the page
bytes and extracts and normalises its ``<a href>`` links (parse_page also reads the
title, base, frames and meta robots), so the rows differ mainly in how they parse.
Parsing one page again and again answers its links from the normaliser's cache, so
a last table times ``normalize_url`` on hrefs of the same kinds that are all new.

    python scripts/bench_parse.py                 # a generated ~50 KB page, ~58 links
    python scripts/bench_parse.py page.html --url https://example.org/ --pages 500 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import timeit
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from bs4 import BeautifulSoup, SoupStrainer

from crawler.parsing import parse_for_check, parse_page
from crawler.urls import normalize_url

PAGE_URL = "https://shop.example.com/catalogue/garden/index.html"
WORDS = (
    "garden", "tools", "seeds", "soil", "compost", "spade", "rake", "hose", "watering", "season",
    "spring", "autumn", "bulbs", "shrubs", "planting", "guide", "delivery", "returns", "organic",
    "pots", "trowel", "greenhouse", "lawn", "hedge", "pruning", "mulch",
)


def generate_page(target_bytes: int = 50_000, links: int = 58, seed: int = 1) -> bytes:
    """Return a deterministic page shaped like a real one: head, nav, article, footer."""
    rng = random.Random(seed)
    hrefs = [_random_href(rng, i) for i in range(links)]
    nav, body_links, footer = hrefs[:20], hrefs[20:48], hrefs[48:]
    parts = [_head(rng), "<body><header><nav><ul>"]
    parts += [f'<li class="nav"><a href="{h}">{_words(rng, 2)}</a></li>' for h in nav]
    parts.append('</ul></nav></header><main><article class="post">')
    per_paragraph = max(1, len(body_links) // 14)
    for start in range(0, len(body_links), per_paragraph):
        parts.append(_paragraph(rng, body_links[start:start + per_paragraph]))
    parts.append("</article>")
    while sum(map(len, parts)) < target_bytes - 2_000:
        parts.append(_paragraph(rng, []))
    parts.append('</main><footer><ul class="footer-links">')
    parts += [f'<li><a href="{h}" rel="nofollow">{_words(rng, 2)}</a></li>' for h in footer]
    parts.append("</ul><p>&copy; 2024 Example Garden Supplies</p></footer></body></html>")
    return "\n".join(parts).encode("utf-8")


def _head(rng: random.Random) -> str:
    """Return a <head> with the usual metadata, styles and scripts of a shop page."""
    style = "".join(f".c{i}{{margin:{i}px;padding:{i % 7}px;color:#{i:06x}}}" for i in range(60))
    script = "".join(f"dataLayer.push({{'e':{i},'v':{rng.random():.6f}}});" for i in range(40))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Garden tools &amp; seeds \u2013 Example Garden Supplies</title>"
        '<link rel="stylesheet" href="/static/site.css">'
        '<link rel="canonical" href="/catalogue/garden/">'
        f"<style>{style}</style><script>window.dataLayer=[];{script}</script></head>"
    )


def _paragraph(rng: random.Random, hrefs: list[str]) -> str:
    """Return a <p> of filler text with the given links spread through it."""
    chunks = [_words(rng, rng.randint(25, 60))]
    for href in hrefs:
        anchor = f'<a href="{href}" title="{_words(rng, 3)}">{_words(rng, 3)}</a>'
        chunks.append(f"{anchor} {_words(rng, 20)}")
    image = f'<img src="/img/{rng.randint(1, 999)}.jpg" alt="{_words(rng, 3)}">'
    return f'<div class="section"><h2>{_words(rng, 4)}</h2><p>{" ".join(chunks)}</p>{image}</div>'


def _random_href(rng: random.Random, index: int) -> str:
    """Return a link of one of the kinds real pages carry."""
    kinds = (
        f"/catalogue/item-{index}.html",
        f"../tools/{index}/",
        f"item-{index}.html?ref=nav&amp;page={index % 5}",
        f"https://shop.example.com/search?q={rng.choice(WORDS)}+{rng.choice(WORDS)}",
        f"https://www.partner{index % 3}.example.org/offer/{index}",
        f"/catalogue/item-{index}.html#reviews",
        "mailto:help@example.com",
        "javascript:void(0)",
    )
    return kinds[index % len(kinds)]


def _words(rng: random.Random, count: int) -> str:
    """Return ``count`` filler words."""
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _soup_links(soup: BeautifulSoup, url: str) -> list[str | None]:
    """Normalise every <a href> of a soup, as parse_page does for its links."""
    return [normalize_url(str(a["href"]), url) for a in soup.find_all("a", href=True)]


def approaches(url: str) -> dict[str, Callable[[bytes], object]]:
    """Return each parsing approach as a function of the page bytes."""
    only_a = SoupStrainer("a")
    return {
        "BeautifulSoup(html.parser)": lambda b: _soup_links(BeautifulSoup(b, "html.parser"), url),
        "BeautifulSoup(lxml)": lambda b: _soup_links(BeautifulSoup(b, "lxml"), url),
        "BeautifulSoup(lxml) + SoupStrainer('a')": lambda b: _soup_links(
            BeautifulSoup(b, "lxml", parse_only=only_a), url
        ),
        "parse_page (lxml hot path)": lambda b: parse_page(b, url),
        "parse_for_check (a link check's: texts, fragments)": lambda b: parse_for_check(b, url),
    }


def cpu_ms_per_call(function: Callable[[], object], repeat: int) -> float:
    """Return the best CPU ms per call over ``repeat`` batches of at least 0.2 s.

    CPU time rather than wall time, so other processes on a shared machine add
    less noise; the throughput runs below are wall time, as they must be.
    """
    timer = timeit.Timer(function, timer=time.process_time)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1000


async def run_inline(body: bytes, url: str, pages: int) -> tuple[float, float]:
    """Parse ``pages`` times on the event loop itself; return (wall s, parent CPU s)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(pages):
        parse_page(body, url)
        await asyncio.sleep(0)  # yield between pages, as a crawler's loop would
    return time.perf_counter() - wall, time.process_time() - cpu


async def run_offloaded(
    body: bytes, url: str, pages: int, pool: ProcessPoolExecutor
) -> tuple[float, float]:
    """Parse ``pages`` times through run_in_executor; return (wall s, parent CPU s)."""
    loop = asyncio.get_running_loop()
    wall, cpu = time.perf_counter(), time.process_time()  # process_time excludes the workers
    await asyncio.gather(*(loop.run_in_executor(pool, parse_page, body, url) for _ in range(pages)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def offload_rows(body: bytes, url: str, pages: int, workers: int) -> list[tuple[object, ...]]:
    """Return (mode, pages/s, parent CPU ms/page, wall s) for inline and pooled parsing."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        await run_offloaded(body, url, workers * 4, pool)  # start and warm the workers
        pooled = await run_offloaded(body, url, pages, pool)
    inline = await run_inline(body, url, pages)
    return [
        (name, pages / wall, cpu / pages * 1000, wall)
        for name, (wall, cpu) in (
            ("inline on the event loop", inline),
            (f"run_in_executor(ProcessPoolExecutor({workers}))", pooled),
        )
    ]


def cold_link_rows(url: str, count: int, repeat: int) -> list[tuple[object, ...]]:
    """Return (kind, µs/link) for normalize_url on ``count`` distinct hrefs, none seen before."""
    rng = random.Random(2)
    hrefs = [_random_href(rng, i).replace("&amp;", "&") for i in range(count)]
    timer = timeit.Timer(lambda: [normalize_url(h, url) for h in hrefs], timer=time.process_time)
    best = min(timer.repeat(repeat=repeat, number=1))
    return [(f"{count:,} distinct hrefs", best / count * 1e6)]


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """Print rows under a header, the first column left-aligned and numbers right-aligned."""
    cells = [header] + [tuple(_cell(v) for v in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(padded))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    """Format one table cell."""
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", type=Path, help="an HTML file (default: generated page)")
    parser.add_argument("--url", default=PAGE_URL, help="the URL the page's links resolve against")
    parser.add_argument("--pages", type=int, default=500, help="pages per throughput run (500)")
    parser.add_argument("--workers", type=int, default=2, help="process pool size (2)")
    parser.add_argument("--repeat", type=int, default=5, help="timing batches per approach (5)")
    args = parser.parse_args()

    body = args.file.read_bytes() if args.file else generate_page()
    result = parse_page(body, args.url)
    print(f"page: {len(body):,} bytes, {body.count(b'<a ')} <a> elements, "
          f"{len(result.links)} distinct crawlable links, title {result.title!r}")

    timings = {name: cpu_ms_per_call(partial(f, body), args.repeat)
               for name, f in approaches(args.url).items()}
    fastest = min(timings.values())
    print_table("Per page: parse + normalise <a href> links (best batch, CPU time)",
                ("approach", "ms/page", "x parse_page"),
                [(name, ms, ms / fastest) for name, ms in timings.items()])
    rows = asyncio.run(offload_rows(body, args.url, args.pages, args.workers))
    print_table(f"{args.pages} pages of parse_page through an asyncio loop (wall time)",
                ("mode", "pages/s", "loop CPU ms/page", "wall s"), rows)
    print_table("normalize_url on new hrefs, no cache hit (best batch, CPU time)",
                ("hrefs", "µs/link"), cold_link_rows(args.url, 20_000, args.repeat))


if __name__ == "__main__":
    main()

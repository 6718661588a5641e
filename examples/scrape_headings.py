"""A tiny scraper: crawl the bundled demo site and collect every page's <h2> headings.

    python examples/scrape_headings.py            # offline, against the demo site
    python examples/scrape_headings.py URL        # any site you may crawl

The hook receives each HTML page's record and its BeautifulSoup document; what it
returns becomes the record's ``items``, and any ``Follow(url)`` is crawled too.
Being a module-level function, it runs in the parse worker processes, where each
page's soup is built: wrap it in ``crawler.in_crawl_process`` to run it here instead.
"""

from __future__ import annotations

import asyncio
import sys

from bs4 import BeautifulSoup

import crawler
from crawler.demo import DemoSite, DemoSpec


def headings(page: crawler.PageRecord, soup: BeautifulSoup) -> list[dict[str, str]]:
    """Scrape the page's second-level headings."""
    return [{"heading": h.get_text(" ", strip=True)} for h in soup.find_all("h2")]


async def scrape(url: str) -> None:
    """Crawl url (at most 20 pages) and print what the hook scraped."""
    async with crawler.Crawler(max_pages=20, on_page=headings) as c:
        async for page in c.crawl(url):
            print(f"{page.status} {page.url}: {len(page.items)} headings, e.g. "
                  f"{page.items[0]['heading'] if page.items else '-'}")
    print(c.statistics())


async def main() -> None:
    """Scrape the URL given, or the demo site served in this process."""
    if len(sys.argv) > 1:
        await scrape(sys.argv[1])
        return
    async with DemoSite(DemoSpec(pages=50)) as site:
        await scrape(site.url)


if __name__ == "__main__":
    asyncio.run(main())

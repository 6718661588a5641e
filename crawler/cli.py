"""The command line: argument parsing -> config -> a crawl, with progress and a summary.

Every user mistake ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .api import Crawler
from .config import ConfigError, CrawlConfig, load_config
from .display import show_progress, stderr, summary_table
from .sinks import open_sink
from .urls import normalize_url

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake on the command line, reported in one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, not usage plus a message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# Flags that map one-to-one onto config settings: flag dest -> setting name.
_SETTING_FLAGS = (
    "concurrency", "per_host", "delay", "max_pages", "max_depth", "timeout", "time_limit",
    "max_body_bytes", "max_redirects", "retries", "parse_workers", "user_agent",
)


def _add_crawl_options(parser: argparse.ArgumentParser) -> None:
    """The options shared by commands that crawl."""
    add = parser.add_argument
    add("-c", "--concurrency", type=int, metavar="N", help="requests in flight at once (async)")
    add("--per-host", type=int, metavar="N", help="requests in flight at once per host")
    add("--delay", type=float, metavar="S", help="minimum seconds between requests to one host")
    add("--max-pages", type=int, metavar="N", help="stop after fetching N pages")
    add("--max-depth", type=int, metavar="N", help="follow links at most N hops from a seed")
    add("--timeout", type=float, metavar="S", help="total seconds allowed for one request")
    add("--time-limit", type=float, metavar="S", help="stop starting requests after S seconds")
    add("--max-body-bytes", type=int, metavar="B", help="stop reading a body past B bytes")
    add("--max-redirects", type=int, metavar="N", help="follow at most N redirects per URL")
    add("--retries", type=int, metavar="N", help="retries for timeouts, resets, 429 and 5xx")
    add("--parse-workers", type=int, metavar="N", help="parse processes (0: parse inline)")
    add("--user-agent", metavar="UA", help="the User-Agent header and robots.txt name")
    add("--no-robots", action="store_true", help="ignore robots.txt")
    add("--follow-nofollow", action="store_true", help="follow rel=nofollow and meta nofollow links")
    add("--allow-domain", action="append", metavar="DOMAIN", help="also crawl this domain (repeatable)")
    add("--include", action="append", metavar="REGEX", help="only crawl URLs matching (repeatable)")
    add("--exclude", action="append", metavar="REGEX", help="never crawl URLs matching (repeatable)")
    add("--config", metavar="FILE", help="a TOML config file; flags override it")
    add("-o", "--output", metavar="FILE", help="write JSON Lines records to FILE ('-' for stdout)")
    add("-q", "--quiet", action="store_true", help="no progress display and no summary")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = _Parser(prog="crawler", description="A fast, polite asyncio link crawler.")
    parser.add_argument("--version", action="version", version=f"crawler {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    crawl = commands.add_parser("crawl", help="crawl from seed URLs")
    crawl.add_argument("urls", nargs="*", metavar="URL", help="seed URLs")
    crawl.add_argument("--seeds-file", metavar="FILE", help="a file of seed URLs, one per line")
    _add_crawl_options(crawl)

    demo = commands.add_parser("demo", help="crawl the bundled demo site, offline")
    demo.add_argument("--pages", type=int, default=300, help="pages on the demo site")
    demo.add_argument("--latency-ms", type=float, default=20.0, help="the demo site's latency")
    _add_crawl_options(demo)

    site = commands.add_parser("demo-site", help="serve the bundled demo site")
    site.add_argument("--host", default="127.0.0.1")
    site.add_argument("--port", type=int, default=0, help="0 picks a free port")
    site.add_argument("--pages", type=int, default=2000)
    site.add_argument("--latency-ms", type=float, default=0.0)
    site.add_argument("--seed", type=int, default=1)
    return parser


def config_from_args(args: argparse.Namespace) -> CrawlConfig:
    """The config file's settings overridden by the flags given."""
    overrides: dict[str, Any] = {name: getattr(args, name) for name in _SETTING_FLAGS
                                 if getattr(args, name, None) is not None}
    if args.no_robots:
        overrides["respect_robots"] = False
    if args.follow_nofollow:
        overrides["follow_nofollow"] = True
    for flag, setting in (("allow_domain", "allow_domains"), ("include", "include"), ("exclude", "exclude")):
        if getattr(args, flag):
            overrides[setting] = tuple(getattr(args, flag))
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
                             quiet: bool) -> int:
    """Run a crawl with a live progress line and a summary; handle Ctrl-C gracefully."""
    crawler = Crawler(config, sink=open_sink(output))
    interrupted = _install_interrupt(crawler)
    started = time.monotonic()
    progress = None if quiet else asyncio.create_task(show_progress(crawler.statistics, started))
    try:
        async with crawler:
            async for _ in crawler.crawl(seeds):
                pass
    finally:
        if progress is not None:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)
    if not quiet:
        stderr.print(summary_table(crawler.statistics(), time.monotonic() - started))
    if interrupted:
        stderr.print("interrupted: output is complete up to the last record written")
        return EXIT_INTERRUPTED
    return 0


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
    config = config_from_args(args)
    seeds = read_seeds(args.urls, args.seeds_file)
    return asyncio.run(crawl_with_display(config, seeds, args.output, args.quiet))


def _cmd_demo(args: argparse.Namespace) -> int:
    """crawler demo: serve the demo site in-process and crawl it."""
    from .demo import DemoSite, DemoSpec

    config = config_from_args(args)
    if args.pages < 1:
        raise UsageError("--pages must be positive")

    async def run() -> int:
        async with DemoSite(DemoSpec(pages=args.pages, latency_ms=args.latency_ms)) as site:
            if not args.quiet:
                stderr.print(f"demo site with {args.pages} pages at {site.url} "
                             f"({args.latency_ms:g} ms latency)")
            return await crawl_with_display(config, [site.url], args.output, args.quiet)

    return asyncio.run(run())


def _cmd_demo_site(args: argparse.Namespace) -> int:
    """crawler demo-site: serve the demo site until interrupted."""
    from .demo import DemoSpec, serve_forever

    if args.pages < 1 or args.latency_ms < 0 or not 0 <= args.port <= 65535:
        raise UsageError("--pages must be positive, --latency-ms 0 or more, --port 0-65535")
    spec = DemoSpec(pages=args.pages, latency_ms=args.latency_ms, seed=args.seed)
    serve_forever(spec, args.host, args.port, on_ready=lambda url: print(url, flush=True))
    return 0


COMMANDS = {"crawl": _cmd_crawl, "demo": _cmd_demo, "demo-site": _cmd_demo_site}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crawler`` command; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError) as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return 1

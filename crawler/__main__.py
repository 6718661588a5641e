"""The ``crawler`` command, and ``python -m crawler``.

The command line's modules load inside main(), not before it: a Ctrl-C during that
quarter of a second then ends the command as one during a crawl does, in one line.
"""

import sys

# cli.EXIT_INTERRUPTED, which cannot be imported before the guard is in place.
EXIT_INTERRUPTED = 130


def main() -> int:
    """Load the command line and run it; a Ctrl-C while it loads exits 130 with one line."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("crawler: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run()


if __name__ == "__main__":
    sys.exit(main())

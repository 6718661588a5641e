"""A pool worker ends when the crawl that started it ends, even when that crawl was killed with -9.

A killed crawl cannot shut its pool down, and its workers would wait for work for
ever: they hold both ends of their own task queue, so no end-of-file tells them.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time

POLL_SECONDS = 1.0  # where the kernel cannot signal a process's end (no pidfd), how often to look


def follow(pid: int) -> None:
    """End this process as soon as process pid has ended (a daemon thread waits for it)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate pid there
        return
    threading.Thread(target=_exit_after, args=(pid,), name=f"lifeline-{pid}", daemon=True).start()


def _exit_after(pid: int) -> None:
    """Block until pid has ended, then leave at once: there is nobody left to report to."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:  # ended already
        pass
    except (AttributeError, OSError):  # not Linux 5.3+: look now and then
        while _alive(pid):
            time.sleep(POLL_SECONDS)
    else:
        select.select([handle], [], [])  # a pidfd turns readable when its process ends
    os._exit(1)


def _alive(pid: int) -> bool:
    """True while process pid exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True

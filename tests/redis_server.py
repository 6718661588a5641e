"""A real redis-server for tests: started on a free 127.0.0.1 port in a directory of its own.

Tests of the distributed crawl talk to the real server (Debian's ``redis-server``), not a
fake: what they prove (atomic claims, leases expiring, AOF surviving a kill -9) is the
server's behaviour as much as ours.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# A cold start (AOF replay included) takes milliseconds; a loaded CI machine may take seconds.
START_TIMEOUT = 15.0


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server child process on 127.0.0.1; ``restart`` keeps its port and its data directory."""

    def __init__(self, directory: Path, *, appendonly: bool = True) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server); "
                               "the distributed crawl's tests need the real server")
        self.executable = executable
        self.directory = directory
        self.appendonly = appendonly
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A new client of database 0 that fails at once when the server is down (no retries)."""
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=5, retry=Retry(NoBackoff(), 0))

    def start(self) -> Self:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("ab")
        # RDB snapshots off: with AOF on, the log alone is what a restart replays.
        self._process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Poll PING until the server answers; fail with its log if it exits or never answers."""
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client()
        try:
            while True:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self._process.returncode}: {self.log()}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer PING in {START_TIMEOUT:g} s: {self.log()}")
                time.sleep(0.02)
        finally:
            client.close()

    def log(self) -> str:
        """The server's log so far (its last lines say why it failed)."""
        path = self.directory / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server: no shutdown, no final fsync (AOF keeps what it had written)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM: redis-server shuts down cleanly) and wait for it to exit."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """Stop the server if it runs, then start it again on the same port with the same data."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def used_memory(self) -> int:
        """The server's used_memory in bytes (INFO memory)."""
        client = self.client()
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

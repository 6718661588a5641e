"""A small real forward proxy on 127.0.0.1 for the tests: plain HTTP forwarding and CONNECT tunnels.

Clients reach it over plain TCP, or over TLS when it is given a server context (an https:// proxy).

It counts what passes through it: each request line (``GET http://...`` or
``CONNECT host:port``) and the Proxy-Authorization it carried. Every forwarded
request is sent upstream with ``Connection: close`` and the client's connection
is closed after the answer, which keeps the relay a plain copy in both directions.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .hostile_server import ServerThread


@dataclass
class ProxyLog:
    """What the proxy was asked: request lines in order, and the Proxy-Authorization of each."""

    lines: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)

    def targets(self, method: str) -> list[str]:
        """The targets of the requests with this method (a URL, or host:port for CONNECT)."""
        return [line.split()[1] for line in self.lines if line.split()[0] == method]


class ForwardProxy:
    """Serve a forward proxy on a ServerThread's loop; ``url`` is where clients send requests."""

    def __init__(self, server: ServerThread, tls: ssl.SSLContext | None = None) -> None:
        self.log = ProxyLog()
        port = server.serve_raw(self._handle, tls)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one request head; tunnel a CONNECT, forward anything else."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
            headers = dict(line.split(":", 1) for line in header_lines)
            self.log.lines.append(request_line)
            self.log.auth.append(next((v.strip() for k, v in headers.items()
                                       if k.lower() == "proxy-authorization"), None))
            method, target, _ = request_line.split(" ")
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, header_lines, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """CONNECT host:port: answer 200, then copy bytes both ways until either side closes."""
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _pipe_both(reader, writer, up_reader, up_writer)

    async def _forward(self, method: str, target: str, header_lines: list[str],
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An absolute-form request: send it upstream in origin form, copy the answer back."""
        url = urlsplit(target)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        keep = [line for line in header_lines
                if line.split(":")[0].lower() not in ("connection", "proxy-connection", "proxy-authorization")]
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        up_writer.write("\r\n".join([f"{method} {path} HTTP/1.1", *keep, "Connection: close", "", ""])
                        .encode("latin-1"))
        await up_writer.drain()
        await _copy(up_reader, writer)
        up_writer.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes until source ends, then end sink's writing side."""
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    finally:
        if sink.can_write_eof():
            sink.write_eof()


async def _pipe_both(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
    """Copy client to upstream and upstream to client until both directions end."""
    try:
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer), return_exceptions=True)
    finally:
        up_writer.close()

"""The test helper that runs a real redis-server: it starts, keeps AOF data across a restart, and dies on kill."""

from __future__ import annotations

import pytest
import redis

from ..redis_server import RedisServer


def test_starts_and_answers(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        assert client.ping()
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.used_memory() > 0


def test_restart_keeps_aof_data_on_the_same_port(redis_server: RedisServer) -> None:
    with redis_server.client() as client:
        client.set("kept", "yes")
    port = redis_server.port
    redis_server.restart()
    redis_server.kill()  # no clean shutdown: what the server had written to its AOF survives
    redis_server.start()
    assert redis_server.port == port
    with redis_server.client() as client:
        assert client.get("kept") == b"yes"


def test_kill_stops_answering(redis_server: RedisServer) -> None:
    redis_server.kill()
    assert not redis_server.running
    with redis_server.client() as client, pytest.raises(redis.ConnectionError):
        client.ping()

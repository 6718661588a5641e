"""Per-host politeness slots: concurrency, delay, Retry-After pauses, robots.txt rules."""

from __future__ import annotations

from crawler.robots import ALLOW_ALL
from crawler.slots import LocalSlots


def test_a_host_takes_per_host_requests_at_once() -> None:
    slots = LocalSlots(per_host=2, delay=0.0)
    host = slots.open("https://site.test/a")
    assert host == slots.open("https://site.test/b") and slots.origin(host) == "https://site.test"
    slots.start(host, 0.0)
    slots.start(host, 0.0)
    assert not slots.free(host, 0.0) and slots.free_at(host) is None  # only a finish frees it
    slots.finish(host, sent=0.0)
    assert slots.free(host, 0.0)


def test_the_delay_runs_from_when_the_last_request_left() -> None:
    slots = LocalSlots(per_host=1, delay=2.0)
    host = slots.open("http://site.test/")
    slots.start(host, 10.0)
    slots.finish(host, sent=11.0)  # handed out at 10, really sent at 11
    assert slots.free_at(host) == 13.0
    assert not slots.free(host, 12.9) and slots.free(host, 13.0)


def test_a_pause_holds_the_host_back_and_never_shortens_a_wait() -> None:
    slots = LocalSlots(per_host=4, delay=0.0)
    host = slots.open("http://site.test/")
    slots.pause(host, 30.0)
    slots.pause(host, 5.0)
    assert slots.free_at(host) == 30.0 and not slots.free(host, 29.0)


def test_robots_txt_is_claimed_once_and_its_crawl_delay_only_slows_the_host() -> None:
    slots = LocalSlots(per_host=1, delay=1.0)
    host = slots.open("http://site.test/")
    assert slots.rules(host) is None
    assert slots.claim_robots(host) and not slots.claim_robots(host)
    slots.settle_robots(host, ALLOW_ALL, crawl_delay=0.5)
    assert slots.rules(host) == ALLOW_ALL and not slots.claim_robots(host)
    slots.start(host, 0.0)
    assert slots.free_at(host) is None
    slots.finish(host, sent=0.0)
    assert slots.free_at(host) == 1.0  # --delay 1 beats Crawl-delay 0.5
    slots.settle_robots(host, ALLOW_ALL, crawl_delay=3.0)
    slots.start(host, 1.0)
    slots.finish(host, sent=1.0)
    assert slots.free_at(host) == 4.0


def test_a_host_never_seen_has_no_wait() -> None:
    assert LocalSlots(per_host=1, delay=0.0).free_at("nowhere.test") is None

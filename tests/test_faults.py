"""The fault suite: whatever the server does, the database ends up with exactly its posts.

A local fake Hacker News search (and a fake Lemmy and feed for the other
listeners) serves a few pages of posts; a fault is injected in the middle of
the walk; `listen --once` runs (twice when the fault is not transient, as a
worker would on its next poll) and the stored set must equal the server's
set: none lost, none twice.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from conftest import SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import AlgoliaFake, Reply, fault_reply, hn_hit

from earful.config import settings_from_dict

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
PATH = "/api/v1/search_by_date"
N = 230  # posts mentioning the brand; 50 per page -> 5 pages per walk


def posts(n: int = N, start: int = 1) -> list[dict]:
    return [hn_hit(i, T - 37 * i, f"acme post number {i}") for i in range(start, start + n)]


def run(srv, store, *, clock=NOW) -> list[str]:
    settings = settings_from_dict(
        {
            **SAMPLE_CONFIG,
            "sources": [{"platform": "hackernews", "base_url": srv.url, "hits_per_page": 50}],
        }
    )
    return listen_once(settings, store, now=clock, timeout=0.4)


class Faulty:
    """Wraps a handler: the `at`-th request (1-based) and the ones after it get `replies`."""

    def __init__(self, inner, at: int, replies: list[Reply]) -> None:
        self.inner, self.at, self.replies, self.n = inner, at, list(replies), 0

    def __call__(self, req):
        self.n += 1
        if self.n >= self.at and self.replies:
            return self.replies.pop(0)
        return self.inner(req)


EXPECTED = sorted(str(i) for i in range(1, N + 1))


TRANSIENT = ["429", "500", "502", "503", "reset", "timeout", "truncated", "cut", "html500"]


@pytest.mark.parametrize("kind", TRANSIENT)
@pytest.mark.parametrize("times", [1, 3])
def test_transient_fault_mid_walk(srv, store, kind, times):
    fake = AlgoliaFake(posts())
    srv.route(PATH, Faulty(fake, 3, [fault_reply(kind, timeout_delay=0.6) for _ in range(times)]))
    lines = run(srv, store)
    assert lines[0].startswith("hackernews: ok")  # retried within the run
    assert stored(store) == EXPECTED


@pytest.mark.parametrize("kind", ["429", "503", "reset", "truncated"])
def test_persistent_fault_then_next_poll(srv, store, kind):
    fake = AlgoliaFake(posts())
    srv.route(PATH, Faulty(fake, 3, [fault_reply(kind) for _ in range(40)]))
    lines = run(srv, store)
    assert "FAILED" in lines[0]
    kept = stored(store)
    assert 0 < len(kept) < N and kept == sorted(set(kept))
    srv.routes[PATH] = fake  # the platform recovers; the next poll resumes the walk
    run(srv, store)
    assert stored(store) == EXPECTED


def test_far_rate_limit_is_recorded_then_next_poll_completes(srv, store):
    later = (NOW + timedelta(minutes=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    fake = AlgoliaFake(posts())
    srv.route(PATH, Faulty(fake, 2, [Reply(429, {"e": 1}, {"Retry-After": later})]))
    lines = run(srv, store)
    assert "rate-limited by the platform until 2026-11-25 12:30:00 UTC" in lines[0]
    run(srv, store, clock=NOW + timedelta(minutes=31))
    assert stored(store) == EXPECTED


@pytest.mark.parametrize("kind", ["html403", "json401"])
def test_hard_fault_then_recovery(srv, store, kind):
    fake = AlgoliaFake(posts())
    srv.route(PATH, Faulty(fake, 2, [fault_reply(kind)]))
    lines = run(srv, store)
    assert "FAILED" in lines[0]
    assert 0 < len(stored(store)) < N  # the page before the fault is kept
    run(srv, store)
    assert stored(store) == EXPECTED


def test_empty_page_inside_the_walk_is_retried_not_skipped(srv, store):
    fake = AlgoliaFake(posts())
    glitch = Reply(200, {"hits": [], "nbHits": N, "page": 2, "nbPages": 5, "hitsPerPage": 50})
    srv.route(PATH, Faulty(fake, 3, [glitch]))
    run(srv, store)
    assert stored(store) == EXPECTED


def test_empty_results(srv, store):
    srv.route(PATH, AlgoliaFake([]))
    lines = run(srv, store)
    assert stored(store) == [] and lines[0].startswith("hackernews: ok, 0 new")


def test_duplicated_pages(srv, store):
    fake = AlgoliaFake(posts())
    served: list[list[dict]] = []

    def repeat(req, hits):
        before = served[-1] if served else []
        served.append(hits)
        return before + hits  # every page also carries the whole previous page again

    fake.page_hook = repeat
    srv.route(PATH, fake)
    lines = run(srv, store)
    assert stored(store) == EXPECTED
    assert "230 new" in lines[0] and "already stored" in lines[0]


def test_overlapping_pages_and_items_out_of_order(srv, store):
    fake = AlgoliaFake(posts())
    rng = random.Random(5)

    def scramble(req, hits):
        page = int(req.arg("page") or 0)
        extra = fake.matching(req)[max(0, page * 50 - 7) : page * 50]  # overlap the previous page
        out = hits + extra
        rng.shuffle(out)
        return out

    fake.page_hook = scramble
    srv.route(PATH, fake)
    run(srv, store)
    assert stored(store) == EXPECTED


def test_posts_arriving_during_the_walk(srv, store):
    fake = AlgoliaFake(posts())
    late = [hn_hit(10_000 + i, T - 9 * i - 1, f"acme indexed late {i}") for i in range(1, 20)]
    n = [0]

    def arrive(req, hits):
        n[0] += 1
        if n[0] == 2:
            fake.add(*late)  # indexed late, within the overlap; some above the page being walked
        return hits

    fake.page_hook = arrive
    srv.route(PATH, fake)
    run(srv, store)
    run(srv, store, clock=NOW + timedelta(minutes=1))  # the next poll's overlap covers them
    assert stored(store) == sorted(EXPECTED + [str(h["objectID"]) for h in late])


def test_crash_between_polls_with_new_posts(srv, store):
    fake = AlgoliaFake(posts())
    srv.route(PATH, fake)
    run(srv, store)
    fake.add(*[hn_hit(5000 + i, T + 60 * i, f"acme new {i}") for i in range(1, 120)])
    run(srv, store, clock=NOW + timedelta(hours=3))
    run(srv, store, clock=NOW + timedelta(hours=3, minutes=5))
    assert len(stored(store)) == N + 119


# -- the same guarantees through the other listeners -----------------------------------
@pytest.mark.parametrize("kind", ["503", "reset", "truncated", "timeout", "429"])
def test_lemmy_faults(srv, store, kind):
    from test_lemmy import LemmyFake, post_view

    items = [post_view(i, NOW - timedelta(minutes=7 * i), f"acme lemmy {i}") for i in range(1, 23)]
    fake = LemmyFake(posts=items)
    fake.install(srv)
    srv.route(
        "/api/v3/search", Faulty(fake.v3_search, 2, [fault_reply(kind, timeout_delay=0.8)] * 2)
    )
    settings = settings_from_dict(
        {**SAMPLE_CONFIG, "sources": [{"platform": "lemmy", "base_url": srv.url, "limit": 5}]}
    )
    listen_once(settings, store, now=NOW, timeout=0.4)
    assert stored(store) == sorted(v["post"]["ap_id"] for v in items)


@pytest.mark.parametrize("kind", ["502", "reset", "cut", "timeout"])
def test_feed_faults(srv, store, kind):
    from conftest import FIXTURES

    body = (FIXTURES / "rss" / "blog.rss").read_bytes()
    ok = Reply(200, body, {"Content-Type": "application/rss+xml"})
    srv.route("/feed.xml", Faulty(lambda r: ok, 1, [fault_reply(kind, timeout_delay=0.8)] * 2))
    settings = settings_from_dict(
        {
            **SAMPLE_CONFIG,
            "sources": [{"platform": "rss", "url": srv.url + "/feed.xml", "backfill": "30d"}],
        }
    )
    listen_once(settings, store, now=NOW, timeout=0.4)
    assert stored(store) == [
        "https://blog.example.com/2026/11/globex",
        "https://blog.example.com/2026/11/moving-off",
    ]

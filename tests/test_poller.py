"""The poller: pages and cursor in one transaction (grouped), health, leases, retries, status."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from conftest import SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import AlgoliaFake, LocalServer, Reply, hn_hit
from pydantic import BaseModel, ConfigDict

from earful import poller as poller_module
from earful.config import settings_from_dict
from earful.models import Mention, Page
from earful.poller import LEASE_TTL, Poller, listen, status_rows
from earful.schema import cursors, mentions, source_health
from earful.store import Store
from listeners import REGISTRY
from listeners._http import make_client
from listeners.base import Listener, Query, SourceError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
PATH = "/api/v1/search_by_date"


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def client():
    with make_client(timeout=2) as c:
        yield c


def settings_for(*sources: dict[str, Any]):
    return settings_from_dict({**SAMPLE_CONFIG, "sources": list(sources)})


def health(store, name: str) -> dict[str, Any]:
    with store.read() as c:
        return dict(
            c.execute(sa.select(source_health).where(source_health.c.source == name)).one()._mapping
        )


# -- a scripted listener for poller-only behaviour ---------------------------------
class ScriptOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script: str = "ok"


SCRIPTS: dict[str, list[Any]] = {}


def mk(i: int, text: str = "acme works", **kw) -> Mention:
    return Mention(
        platform="scripted",
        external_id=f"s{i}",
        url=f"https://example.test/{i}",
        author=f"u{i}",
        text=text,
        created_at=NOW - timedelta(minutes=i),
        **kw,
    )


class ScriptedListener(Listener):
    """Replays SCRIPTS[options.script]: Pages are yielded, SourceErrors raised, per poll."""

    platform = "scripted"
    Options: ClassVar[type[BaseModel]] = ScriptOptions
    sees = "Scripted test posts."
    needs_network = False

    def queries(self, entities):
        return [Query("all", "Acme", ("acme",))]

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        self.ctx.state.setdefault("cursors", []).append(cursor)
        steps = SCRIPTS[self.options.script].pop(0)  # type: ignore[attr-defined]
        for step in steps:
            if isinstance(step, Exception):
                raise step
            if callable(step):
                step()
                continue
            yield step


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setitem(REGISTRY, "scripted", ScriptedListener)
    SCRIPTS.clear()
    yield SCRIPTS
    SCRIPTS.clear()


# -- demo through the poller ----------------------------------------------------------
def test_demo_listener_runs_through_the_poller(store):
    settings = settings_for({"platform": "demo", "every": "1m"})
    lines: list[str] = []
    assert listen(settings, store, once=True, out=lines.append) == 0
    assert store.count_mentions() > 0
    assert len(lines) == 1 and lines[0].startswith("demo: ok")
    rows = status_rows(settings, store)
    assert rows[0]["status"] == "ok" and rows[0]["items_last_poll"] == store.count_mentions()
    with store.read() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(cursors)) >= 1


def test_unknown_source_is_a_clear_key_error(store):
    settings = settings_for({"platform": "demo"})
    with pytest.raises(KeyError, match="no source named 'nope'.*known: demo"):
        listen(settings, store, once=True, only="nope", out=lambda s: None)


def test_only_polls_the_named_source(srv, store, client):
    srv.route(PATH, AlgoliaFake([hn_hit(1, T - 5, "acme")]))
    settings = settings_for({"platform": "demo"}, {"platform": "hackernews", "base_url": srv.url})
    lines = listen_once(settings, store, clock=Clock(), only="hackernews", client=client)
    assert stored(store) == ["1"] and len(lines) == 1


# -- one transaction per page; cursors ------------------------------------------------
def test_page_and_cursor_are_saved_together_and_next_poll_gets_the_cursor(scripted, store, client):
    scripted["ok"] = [
        [Page([mk(1), mk(2)], {"n": 1}), Page([mk(3)], {"n": 2}, done=True)],
        [Page([], {"n": 3}, done=True)],
    ]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(
        settings, store, client=client, clock=Clock(), sleep=lambda s: None, out=lambda s: None
    )
    p.run_once()
    assert stored(store) == ["s1", "s2", "s3"]
    assert store.get_cursor("scripted", "all") == {"n": 2}
    p.run_once()
    assert p.listener(settings.sources[0]).ctx.state["cursors"] == [None, {"n": 2}]


def test_failure_after_a_page_keeps_the_page_and_its_cursor(scripted, store, client):
    scripted["ok"] = [[Page([mk(1)], {"n": 1}), SourceError("error", "boom")]]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    lines = listen_once(settings, store, clock=Clock(), client=client)
    assert stored(store) == ["s1"] and store.get_cursor("scripted", "all") == {"n": 1}
    h = health(store, "scripted")
    assert h["consecutive_failures"] == 1 and h["error_kind"] == "error"
    assert "boom" in h["last_error"] and "FAILED" in lines[0]


def test_malformed_and_off_topic_are_counted_never_abort(scripted, store, client, monkeypatch):
    bad = mk(3, text="acme exploding")
    scripted["ok"] = [[Page([mk(1), mk(2, text="nothing relevant"), bad], {"n": 1}, skipped=2)]]
    from earful.pipeline import Pipeline

    real = Pipeline.enrich

    def flaky(self, m, source=None):
        if m.external_id == "s3":
            raise RuntimeError("scorer choked")
        return real(self, m, source)

    monkeypatch.setattr(Pipeline, "enrich", flaky)
    monkeypatch.setattr(
        Pipeline, "enrich_all", lambda self, b, source=None: (_ for _ in ()).throw(RuntimeError())
    )
    settings = settings_for({"platform": "scripted", "script": "ok"})
    lines = listen_once(settings, store, clock=Clock(), client=client)
    assert stored(store) == ["s1"]
    h = health(store, "scripted")
    assert h["skipped_total"] == 4  # 2 malformed in the listener, 1 in the pipeline, 1 off-topic
    assert "3 malformed, 1 off-topic" in lines[0]
    assert h["consecutive_failures"] == 0


def test_unexpected_listener_exception_does_not_kill_the_worker(scripted, store, client):
    scripted["ok"] = [[ZeroDivisionError("oops")]]
    scripted["b"] = [[Page([mk(9)], {"n": 1}, done=True)]]
    settings = settings_for(
        {"platform": "scripted", "script": "ok", "name": "a"},
        {"platform": "scripted", "script": "b", "name": "b"},
    )
    lines = listen_once(settings, store, clock=Clock(), client=client)
    assert "a: FAILED" in lines[0] and "ZeroDivisionError" in lines[0]
    assert lines[1].startswith("b: ok") and stored(store) == ["s9"]


# -- --once retries -------------------------------------------------------------------
def test_once_retries_transient_errors_with_backoff(scripted, store, client):
    scripted["ok"] = [
        [SourceError("unreachable", "down", transient=True)],
        [SourceError("bad_payload", "cut", transient=True)],
        [Page([mk(1)], {"n": 1}, done=True)],
    ]
    slept: list[float] = []
    settings = settings_for({"platform": "scripted", "script": "ok"})
    lines = listen_once(settings, store, clock=Clock(), sleep=slept.append, client=client)
    assert stored(store) == ["s1"] and slept == [1.0, 2.0]
    assert "ok" in lines[0] and "after 2 retries" in lines[0]
    assert health(store, "scripted")["consecutive_failures"] == 0


def test_once_waits_out_a_short_rate_limit(scripted, store, client):
    clock = Clock()
    scripted["ok"] = [
        [SourceError("rate_limited", "429", retry_at=NOW + timedelta(seconds=42), transient=True)],
        [Page([mk(1)], {"n": 1}, done=True)],
    ]
    slept: list[float] = []
    settings = settings_for({"platform": "scripted", "script": "ok"})
    listen_once(settings, store, clock=clock, sleep=slept.append, client=client)
    assert slept == [42.0] and stored(store) == ["s1"]


def test_long_rate_limit_is_recorded_not_waited(scripted, store, client):
    until = NOW + timedelta(minutes=20)
    scripted["ok"] = [[SourceError("rate_limited", "429", retry_at=until, transient=True)]]
    slept: list[float] = []
    settings = settings_for({"platform": "scripted", "script": "ok", "every": "5m"})
    lines = listen_once(settings, store, clock=Clock(), sleep=slept.append, client=client)
    assert slept == []  # listen_once asserted the exit code 0
    h = health(store, "scripted")
    assert h["rate_limited_until"] == until and h["next_poll"] == until
    assert "rate-limited by the platform until 2026-11-25 12:20:00 UTC" in lines[0]
    row = status_rows(settings, store, now=NOW)[0]
    assert row["status"] == "rate-limited" and row["rate_limited_until"] == until
    assert status_rows(settings, store, now=until + timedelta(seconds=1))[0]["status"] == "failing"


def test_needs_credentials_is_not_retried(scripted, store, client):
    scripted["ok"] = [[SourceError("needs_credentials", "HTTP 401")]]
    slept: list[float] = []
    settings = settings_for({"platform": "scripted", "script": "ok"})
    listen_once(settings, store, clock=Clock(), sleep=slept.append, client=client)
    assert slept == []
    row = status_rows(settings, store, now=NOW)[0]
    assert row["status"] == "needs credentials" and row["error_kind"] == "needs_credentials"
    assert row["last_error"].startswith("needs credentials")


# -- health ---------------------------------------------------------------------------
def test_health_counts_today_and_backs_off_on_failures(scripted, store, client):
    clock = Clock()
    scripted["ok"] = [
        [Page([mk(1), mk(2)], {"n": 1}, done=True)],
        [Page([mk(3)], {"n": 2}, done=True)],
        [SourceError("error", "x")],
        [SourceError("error", "y")],
        [Page([mk(4)], {"n": 3}, done=True)],
    ]
    settings = settings_for({"platform": "scripted", "script": "ok", "every": "10m"})
    p = Poller(
        settings, store, client=client, clock=clock, sleep=lambda s: None, out=lambda s: None
    )
    src = settings.sources[0]
    p.run_source(src, once=False)
    h = health(store, "scripted")
    assert (h["items_last_poll"], h["items_today"], h["next_poll"]) == (
        2,
        2,
        NOW + timedelta(minutes=10),
    )
    p.run_source(src, once=False)
    assert health(store, "scripted")["items_today"] == 3
    clock.at = NOW + timedelta(days=1)
    p.run_source(src, once=False)
    h = health(store, "scripted")
    assert h["items_today"] == 0 and h["consecutive_failures"] == 1
    assert h["next_poll"] == clock.at + timedelta(minutes=10)
    p.run_source(src, once=False)
    h = health(store, "scripted")
    assert h["consecutive_failures"] == 2 and h["next_poll"] == clock.at + timedelta(minutes=20)
    p.run_source(src, once=False)
    h = health(store, "scripted")
    assert h["consecutive_failures"] == 0 and h["items_today"] == 1
    assert h["last_success"] == clock.at and h["lease_owner"] is None


def test_status_rows_never_polled_and_sees(store):
    settings = settings_for({"platform": "demo"}, {"platform": "hackernews"})
    rows = status_rows(settings, store, now=NOW)
    assert [r["name"] for r in rows] == ["demo", "hackernews"]
    assert all(r["status"] == "never polled" for r in rows)
    assert "Hacker News" in rows[1]["sees"]
    for key in (
        "last_success",
        "last_error",
        "error_kind",
        "rate_limited_until",
        "items_last_poll",
        "items_today",
        "skipped_total",
        "next_poll",
        "platform",
    ):
        assert key in rows[0]


# -- leases ---------------------------------------------------------------------------
def test_lease_blocks_a_second_worker_until_it_expires(scripted, store, client):
    scripted["ok"] = [[Page([mk(1)], {"n": 1}, done=True)]]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    clock = Clock()
    a = Poller(settings, store, client=client, clock=clock, owner="A", out=lambda s: None)
    b = Poller(settings, store, client=client, clock=clock, owner="B", out=lambda s: None)
    a.ensure_health(settings.sources)
    assert a.take_lease("scripted")  # A is polling (or died while polling)
    lines: list[str] = []
    b.out = lines.append
    b.run_once()
    assert lines == ["scripted: skipped, another worker is polling it"] and stored(store) == []
    clock.at = NOW + LEASE_TTL + timedelta(seconds=1)  # A died: its lease expires
    b.run_once()
    assert stored(store) == ["s1"] and health(store, "scripted")["lease_owner"] is None


# -- a listener that stopped at its own bound ("more") --------------------------------
def test_once_walks_again_from_the_saved_cursor_while_the_listener_has_more(
    scripted, store, client
):
    scripted["ok"] = [
        [Page([mk(1)], {"n": 1}, done=True, more=True)],
        [Page([mk(2)], {"n": 2}), Page([mk(3)], {"n": 3}, done=True, more=True)],
        [Page([mk(4)], {"n": 4}, done=True)],
    ]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    res = p.run_source(settings.sources[0], once=True)
    assert res.error is None and not res.more
    assert stored(store) == ["s1", "s2", "s3", "s4"]
    assert p.listener(settings.sources[0]).ctx.state["cursors"] == [None, {"n": 1}, {"n": 3}]
    assert store.get_cursor("scripted", "all") == {"n": 4} and res.pages == 4


def test_live_poll_with_more_comes_back_at_once(scripted, store, client):
    scripted["ok"] = [[Page([mk(1)], {"n": 1}, done=True, more=True)]]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    p.ensure_health(settings.sources)
    res = p.run_source(settings.sources[0], once=False)
    assert res.more and stored(store) == ["s1"]
    assert health(store, "scripted")["next_poll"] == NOW  # not NOW + every


def test_more_without_progress_does_not_spin(scripted, store, client):
    scripted["ok"] = [
        [Page([mk(1)], {"n": 1}, done=True, more=True)],
        [Page([], None, done=True, more=True)],  # says more, moves nothing
    ]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    res = p.run_source(settings.sources[0], once=True)
    assert res.error is None and res.more  # a third walk would find no script and fail
    assert stored(store) == ["s1"] and scripted["ok"] == []


@pytest.mark.parametrize("group_rows", [1, 5000])
def test_worker_that_lost_its_lease_writes_nothing_more(
    scripted, store, client, monkeypatch, group_rows
):
    monkeypatch.setattr(poller_module, "GROUP_ROWS", group_rows)
    settings = settings_for({"platform": "scripted", "script": "ok"})
    clock = Clock()
    a = Poller(settings, store, client=client, clock=clock, owner="A", out=lambda s: None)
    b = Poller(settings, store, client=client, clock=clock, owner="B", out=lambda s: None)

    def a_stalls_and_b_takes_over():
        clock.at = NOW + LEASE_TTL * 2
        assert b.take_lease("scripted")

    scripted["ok"] = [[Page([mk(1)], {"n": 1}), a_stalls_and_b_takes_over, Page([mk(2)], {"n": 2})]]
    res = a.run_source(settings.sources[0], once=True)
    assert res.busy
    if group_rows == 1:  # page 1 was written before the stall; page 2 is not
        assert stored(store) == ["s1"] and store.get_cursor("scripted", "all") == {"n": 1}
    else:  # both pages were waiting in one group: neither is written, nor the cursor
        assert stored(store) == [] and store.get_cursor("scripted", "all") is None
    assert health(store, "scripted")["lease_owner"] == "B"


# -- pages written in groups -----------------------------------------------------------
def test_pages_of_a_walk_share_a_transaction_with_the_newest_cursor(scripted, store, client):
    seen: list[tuple[list[str], Any]] = []

    def look():
        seen.append((stored(store), store.get_cursor("scripted", "all")))

    scripted["ok"] = [
        [
            Page([mk(1), mk(2)], {"n": 1}),
            look,
            Page([mk(3)], None),  # a page that does not move the cursor
            Page([mk(2), mk(4)], {"n": 3}),  # a repeat across pages is stored once
            look,
            Page([], None, done=True),
        ]
    ]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    res = p.run_source(settings.sources[0], once=True)
    assert seen == [([], None), ([], None)]  # nothing written mid-walk
    assert stored(store) == ["s1", "s2", "s3", "s4"]
    assert store.get_cursor("scripted", "all") == {"n": 3}
    assert (res.new, res.duplicates, res.pages) == (4, 1, 4)


def test_a_group_is_written_when_it_reaches_its_bound(scripted, store, client, monkeypatch):
    monkeypatch.setattr(poller_module, "GROUP_ROWS", 2)
    seen: list[tuple[list[str], Any]] = []

    def look():
        seen.append((stored(store), store.get_cursor("scripted", "all")))

    scripted["ok"] = [
        [
            Page([mk(1)], {"n": 1}),
            look,
            Page([mk(2)], {"n": 2}),
            look,
            Page([mk(3)], {"n": 3}),
            SourceError("unreachable", "connection reset"),
        ]
    ]
    settings = settings_for({"platform": "scripted", "script": "ok"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    res = p.run_source(settings.sources[0], once=False)
    assert seen == [([], None), (["s1", "s2"], {"n": 2})]
    # the failure mid-walk still writes the page fetched before it, with its cursor
    assert stored(store) == ["s1", "s2", "s3"] and store.get_cursor("scripted", "all") == {"n": 3}
    assert res.error is not None and res.error.kind == "unreachable"


def test_run_forever_polls_then_stops_on_event(srv, store, client):
    srv.route(PATH, AlgoliaFake([hn_hit(1, int(time.time()) - 5, "acme")]))
    settings = settings_for({"platform": "hackernews", "base_url": srv.url, "every": "1h"})
    stop = threading.Event()
    lines: list[str] = []
    t = threading.Thread(
        target=lambda: listen(settings, store, stop=stop, client=client, out=lines.append)
    )
    t.start()
    deadline = time.monotonic() + 10
    while not lines and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    t.join(5)
    assert not t.is_alive()
    assert stored(store) == ["1"] and lines[0].startswith("hackernews: ok")
    assert len(srv.served(PATH)) == 3  # one poll per query, then idle until next_poll


def test_text_of_any_size_and_content_is_stored(srv, store, client):
    big = "acme " + ("x" * 100_000)
    nasty = "acme &lt;script&gt;alert(1)&lt;/script&gt; \u202eevil\u202c \x00\x07 done"
    srv.route(PATH, AlgoliaFake([hn_hit(1, T - 5, big), hn_hit(2, T - 6, nasty)]))
    settings = settings_for({"platform": "hackernews", "base_url": srv.url})
    listen_once(settings, store, clock=Clock(), client=client)
    with store.read() as c:
        texts = dict(c.execute(sa.select(mentions.c.external_id, mentions.c.text)).all())
    assert len(texts["1"]) >= 100_000
    assert "\x00" not in texts["2"] and "\u202e" in texts["2"]
    assert "<script>alert(1)</script>" in texts["2"]  # escaped text stays text, never markup


def test_health_says_unreachable_when_nothing_listens(store, client):
    with LocalServer() as s:
        dead = s.url
    settings = settings_for({"platform": "hackernews", "base_url": dead})
    lines = listen_once(settings, store, clock=Clock(), client=client)
    row = status_rows(settings, store, now=NOW)[0]
    assert row["status"] == "failing" and row["error_kind"] == "unreachable"
    assert row["last_error"].startswith("cannot reach the server")
    assert "FAILED: cannot reach the server" in lines[0]


def test_http_429_from_a_real_server_is_recorded(srv, store, client):
    srv.route(PATH, Reply(429, {"e": 1}, {"Retry-After": "3600"}))
    settings = settings_for({"platform": "hackernews", "base_url": srv.url})
    listen_once(settings, store, clock=Clock(), client=client)
    h = health(store, "hackernews")
    assert h["error_kind"] == "rate_limited" and h["rate_limited_until"] == NOW + timedelta(hours=1)
    assert len(srv.served(PATH)) == 1


# -- several workers on PostgreSQL ----------------------------------------------------
@pytest.mark.postgres
@pytest.mark.parametrize("leases", [True, False])
def test_two_workers_on_postgres_never_poll_one_source_at_once(pg_url, monkeypatch, leases):
    if not leases:  # the control: without leases the same setup does overlap
        monkeypatch.setattr(Poller, "take_lease", lambda self, key: True)
    store = Store(pg_url)
    store.upgrade()
    servers = [LocalServer().start() for _ in range(3)]
    try:
        now = int(time.time())
        for n, s in enumerate(servers):
            hits = [hn_hit(n * 1000 + i, now - 30 * i, f"acme post {i}") for i in range(1, 120)]
            fake = AlgoliaFake(hits)

            served = itertools.count(1)

            def slow(req, fake=fake, served=served):
                # The first two requests to each source are held for a moment, so two
                # workers on one source would overlap there however loaded the machine is.
                time.sleep(0.5 if next(served) <= 2 else 0.01)
                return fake(req)

            s.route(PATH, slow)
        settings = settings_for(
            *[
                {
                    "platform": "hackernews",
                    "base_url": s.url,
                    "name": f"hn{n}",
                    "every": "1s",
                    "hits_per_page": 10,
                }
                for n, s in enumerate(servers)
            ]
        )
        stop = threading.Event()
        polled: list[str] = []

        def worker():
            with make_client(timeout=5) as c:
                listen(settings, store, stop=stop, client=c, out=polled.append)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()

        def done() -> bool:  # leases: every post stored; control: an overlap was seen
            if leases:
                return len(stored(store)) >= 3 * 119
            return max(s.max_in_flight[PATH] for s in servers) >= 2

        deadline = time.monotonic() + 20  # bounded either way
        while time.monotonic() < deadline and not done():
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads)
        overlap = max(s.max_in_flight[PATH] for s in servers)
        if leases:
            assert overlap == 1, "two workers polled one source at the same time"
            assert len(stored(store)) == 3 * 119
            with store.read() as c:
                owners = c.scalars(sa.select(source_health.c.lease_owner)).all()
            assert owners == [None, None, None]
        else:
            assert overlap >= 2
    finally:
        for s in servers:
            s.stop()
        store.engine.dispose()


def test_live_poll_bounded_by_pages_comes_back_at_once(scripted, store, client, monkeypatch):
    import earful.poller as poller_mod

    monkeypatch.setattr(poller_mod, "MAX_PAGES_LIVE", 2)
    scripted["ok"] = [
        [Page([mk(1)], {"n": 1}), Page([mk(2)], {"n": 2}), Page([mk(3)], {"n": 3}, done=True)],
        [Page([mk(3)], {"n": 3}, done=True)],
    ]
    settings = settings_for({"platform": "scripted", "script": "ok", "every": "10m"})
    p = Poller(settings, store, client=client, clock=Clock(), out=lambda s: None)
    p.run_source(settings.sources[0], once=False)
    h = health(store, "scripted")
    assert stored(store) == ["s1", "s2"] and h["next_poll"] == NOW  # more to fetch: due now
    assert store.get_cursor("scripted", "all") == {"n": 2}
    p.run_source(settings.sources[0], once=False)
    assert stored(store) == ["s1", "s2", "s3"]
    assert health(store, "scripted")["next_poll"] == NOW + timedelta(minutes=10)

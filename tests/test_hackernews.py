"""Hacker News: pure parse on recorded payloads, fetches against a local fake Algolia."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import AlgoliaFake, hn_hit

from earful.config import settings_from_dict
from listeners._http import make_client
from listeners.base import SourceError
from listeners.hackernews import parse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
PATH = "/api/v1/search_by_date"


def load(name: str):
    return json.loads((FIXTURES / "hackernews" / name).read_text())


# -- parse ----------------------------------------------------------------------
def test_parse_recorded_sample():
    ms, skipped = parse(load("search_by_date.json"))
    assert skipped == 0
    assert [m.external_id for m in ms] == ["15625956", "15625742", "15625325"]
    c = ms[0]
    assert c.url == "https://news.ycombinator.com/item?id=15625956"
    assert c.author == "dcosson"
    assert c.created_at == datetime(2017, 11, 4, 17, 15, 45, tzinfo=UTC)
    assert c.in_reply_to == "15625652" and c.thread_id == "15624206"
    assert "&amp;" not in c.text and "simple & modular" in c.text
    assert "<p>" not in c.text and "you're better off" in c.text
    story = ms[2]
    assert story.text.startswith("How to Build Your Own Blockchain")
    assert story.in_reply_to is None and story.engagement == 63 + 7
    assert "_highlightResult" not in story.raw


def test_parse_skips_malformed_and_strips_html():
    ms, skipped = parse(load("malformed_and_html.json"))
    assert skipped == 3  # deleted (no text), bad created_at_i, no objectID
    assert [m.external_id for m in ms] == ["900001", "900004"]
    assert ms[0].text == (
        'Acme\'s status page says "all green" but nothing loads.\n\nSecond paragraph & a link.'
    )
    assert ms[1].text == "Show HN: Acme Cloud – fast deploys\n\nWe built acme because…"


def test_parse_empty_and_broken_envelope():
    assert parse(load("empty.json")) == ([], 0)
    with pytest.raises(SourceError) as ei:
        parse({"message": "nope"})
    assert ei.value.kind == "bad_payload"


# -- fetch against a local server -----------------------------------------------
def hn_settings(url: str, **extra):
    raw = {**SAMPLE_CONFIG, "sources": [{"platform": "hackernews", "base_url": url, **extra}]}
    return settings_from_dict(raw)


def test_first_poll_backfills_with_quoted_terms_and_post_filter(srv, store):
    fake = AlgoliaFake(
        [
            hn_hit(1, T - 60, "Acme is down again, anyone else?"),
            hn_hit(2, T - 3600, "Switched from Globex, no regrets", story=True),
            hn_hit(3, T - 2 * 86400, "acmecorp is a different company"),  # substring only
            hn_hit(4, T - 8 * 86400, "Acme outage last week"),  # outside the 7 day backfill
            hn_hit(5, T - 120, "Initech support answered quickly, thanks"),
        ]
    )
    srv.route(PATH, fake)
    lines = listen_once(hn_settings(srv.url), store, now=NOW, timeout=2)  # asserts exit code 0
    assert stored(store, as_set=True) == {"1", "2", "5"}
    assert lines == [lines[0]] and lines[0].startswith("hackernews: ok, 3 new")
    reqs = srv.served(PATH)
    assert sorted(r.arg("query") for r in reqs) == ['"acme"', '"globex"', '"initech"']
    for r in reqs:
        assert r.arg("tags") == "(story,comment)"
        assert r.arg("typoTolerance") == "false"
        assert r.arg("hitsPerPage") == "100"
        assert r.arg("numericFilters") == f"created_at_i>{T - 7 * 86400},created_at_i<={T}"
        assert "Earful/" in r.headers["user-agent"]


def test_backfill_window_is_per_source(srv, store):
    srv.route(PATH, AlgoliaFake())
    listen_once(hn_settings(srv.url, backfill="1d"), store, now=NOW, timeout=2)
    assert srv.served(PATH)[0].arg("numericFilters").startswith(f"created_at_i>{T - 86400},")


def test_later_poll_starts_at_watermark_minus_overlap(srv, store):
    fake = AlgoliaFake([hn_hit(1, T - 60, "acme one")])
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url), store, now=NOW, timeout=2)
    later = NOW + timedelta(hours=1)
    fake.add(hn_hit(2, T + 1800, "acme two"), hn_hit(3, T - 100, "acme indexed late"))
    srv.requests.clear()
    listen_once(hn_settings(srv.url), store, now=later, timeout=2)
    acme = [r for r in srv.served(PATH) if r.arg("query") == '"acme"']
    assert acme[0].arg("numericFilters") == (
        f"created_at_i>{T - 300},created_at_i<={int(later.timestamp())}"
    )
    assert stored(store, as_set=True) == {"1", "2", "3"}


def test_walks_every_page(srv, store):
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 251)])
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url, hits_per_page=100), store, now=NOW, timeout=2)
    pages = [r.arg("page") for r in srv.served(PATH) if r.arg("query") == '"acme"']
    assert pages == ["0", "1", "2"]
    assert len(stored(store, as_set=True)) == 250


def test_result_cap_narrows_the_window(srv, store):
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 251)], cap=100)
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url, hits_per_page=50), store, now=NOW, timeout=2)
    acme = [r for r in srv.served(PATH) if r.arg("query") == '"acme"']
    uppers = {r.arg("numericFilters").split("<=")[1] for r in acme}
    assert len(uppers) >= 3  # the upper bound moved down as each capped window was exhausted
    assert len(stored(store, as_set=True)) == 250


def test_crash_mid_walk_resumes_from_saved_page(srv, store):
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 301)])
    srv.route(PATH, fake)
    settings = hn_settings(srv.url, hits_per_page=100)
    from earful.poller import Poller

    client = make_client(timeout=2)
    poller = Poller(settings, store, client=client, clock=lambda: NOW, sleep=lambda s: None)
    src = settings.sources[0]
    listener = poller.listener(src)
    q = listener.queries(settings.entities())[0]
    gen = listener.poll(q, None)
    first = next(gen)  # page 0 stored, then the worker "dies"
    store.save_page(src.key, q.key, poller.pipeline.enrich_all(first.mentions)[0], first.cursor)
    assert first.cursor["watermark"] is None and first.cursor["walk"]["page"] == 1
    srv.requests.clear()
    listen_once(settings, store, now=NOW, timeout=2)
    acme_pages = [r.arg("page") for r in srv.served(PATH) if r.arg("query") == '"acme"']
    assert acme_pages == ["1", "2"]  # resumed, did not restart or skip
    assert len(stored(store, as_set=True)) == 300
    assert store.get_cursor(src.key, q.key) == {"watermark": T}
    client.close()


def test_query_override_is_sent_verbatim(srv, store):
    srv.route(PATH, AlgoliaFake([hn_hit(1, T - 5, "acme and globex together")]))
    listen_once(hn_settings(srv.url, query="acme globex"), store, now=NOW, timeout=2)
    assert [r.arg("query") for r in srv.served(PATH)] == ["acme globex"]
    assert stored(store, as_set=True) == {"1"}


def test_typo_tolerant_hits_are_filtered_out(srv, store):
    # The recorded response for query=nodejs matched "Nodes" (typo tolerance) and "Node.js".
    srv.route(PATH, load("search_by_date.json"))
    settings = settings_from_dict(
        {
            "brand": {"name": "Node", "terms": ["nodejs"]},
            "sources": [{"platform": "hackernews", "base_url": srv.url, "backfill": "5000d"}],
        }
    )
    listen_once(settings, store, now=NOW, timeout=2)
    assert stored(store, as_set=True) == {"15625742"}  # only the hit whose text really says NodeJs

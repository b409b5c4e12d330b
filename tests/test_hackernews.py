"""Hacker News: pure parse on recorded payloads, fetches against a local fake Algolia."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import AlgoliaFake, hn_hit

from earful.config import settings_from_dict
from earful.models import Mention
from listeners._http import epoch, html_to_text, iso, make_client
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


# parse's hot path must build exactly what this plain reading of a hit builds.
def reference_mention(hit: dict[str, Any]) -> Mention | None:
    oid = str(hit["objectID"])
    if not oid:
        raise ValueError("empty objectID")
    title = hit.get("title") or ""
    body = hit.get("comment_text") or hit.get("story_text") or ""
    text = "\n\n".join(p for p in (html_to_text(title), html_to_text(body)) if p)
    if not text:
        return None
    created_i = hit.get("created_at_i")
    created = epoch(created_i) if created_i is not None else iso(hit.get("created_at"))
    is_comment = hit.get("comment_text") is not None or hit.get("parent_id") is not None
    parent = hit.get("parent_id")
    story = hit.get("story_id")
    return Mention(
        platform="hackernews",
        external_id=oid,
        native_id=oid,
        url=f"https://news.ycombinator.com/item?id={oid}",
        author=str(hit.get("author") or ""),
        text=text,
        created_at=created,
        in_reply_to=str(parent) if is_comment and parent is not None else None,
        thread_id=str(story) if story is not None else oid,
        engagement=int(hit.get("points") or 0) + int(hit.get("num_comments") or 0),
        raw={k: v for k, v in hit.items() if k != "_highlightResult"},
    )


def reference_parse(hits: list[Any]) -> tuple[list[Mention], int]:
    out, skipped = [], 0
    for hit in hits:
        try:
            m = reference_mention(hit)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            m = None
        if m is None:
            skipped += 1
        else:
            out.append(m)
    return out, skipped


HOSTILE_TEXT = [
    "Acme&#x27;s <b>bold</b> &amp; <script>alert('x')</script> done",
    "<style>p{}</style>Acme<p>para</p><br>line",
    "\x00acme\x01\x7f control characters",
    "\u202eacme reversed\u202c \u200f",
    "acme " + "x" * 100_000,
    "<p>" + "acme &lt;3 " * 5_000 + "</p>",
    "  spaces around  ",
    "\n\n\nacme\n\n\n\n",
    "&",
    "<p></p>",
    "\ud800 lone surrogate",
    "emoji 😀 acme",
    "\xa0acme\xa0&nbsp;",
    "plain acme text",
    "",
]
ODD_VALUES = [None, 0, 1, 1.5, True, "", "12", "abc", [], ["<"], ["x"], {}, {"a": 1}, 1e20, 2**64]
ODD_VALUES += [float("nan"), float("inf"), "2026-11-22T02:58:23", "garbage"]


def hostile_hits() -> list[Any]:
    def hit(**kw: Any) -> dict[str, Any]:
        n = len(hits) + 1
        return {**hn_hit(n, T - n, "acme", author=f"u{n}"), **kw}

    hits: list[Any] = []
    for text in HOSTILE_TEXT:
        hits.append(hit(comment_text=text))
        hits.append(hit(comment_text=None, story_text=text, title=text, parent_id=None, points=3))
        hits.append(hit(title=text))
    for key in ("objectID", "title", "comment_text", "story_text", "created_at_i", "created_at"):
        for value in ODD_VALUES:
            hits.append(hit(**{key: value}))
            hits.append(hit(**{key: value, "created_at_i": None}))
    for key in ("author", "points", "num_comments", "parent_id", "story_id", "_highlightResult"):
        for value in ODD_VALUES:
            hits.append(hit(**{key: value}))
    for key in ("objectID", "comment_text", "created_at_i", "parent_id", "story_id"):
        h = hit()
        del h[key]
        hits.append(h)
    hits += [None, 1, "x", [], {}, {"objectID": ""}, hit(_highlightResult={"a": {"v": "<em>"}})]
    random.Random(2).shuffle(hits)
    return hits


def fields(ms: list[Mention]) -> list[tuple[Any, ...]]:
    return [tuple(repr(getattr(m, f.name)) for f in dataclasses.fields(m)) for m in ms]


@pytest.mark.parametrize("name", ["search_by_date.json", "malformed_and_html.json", "hostile"])
def test_parse_builds_what_the_plain_reading_builds(name):
    hits = hostile_hits() if name == "hostile" else load(name)["hits"]
    got, got_skipped = parse({"hits": hits})
    want, want_skipped = reference_parse(hits)
    assert got_skipped == want_skipped and fields(got) == fields(want)
    if name == "hostile":
        assert 10 < got_skipped < len(hits) - 30  # a real mix of kept and skipped hits
    for m in got:
        assert "_highlightResult" not in m.raw


@pytest.mark.parametrize("created_at_i", [1e17, -1e17, 10**17, 2**64, "1e400"])
def test_parse_skips_a_timestamp_beyond_the_platforms_range(created_at_i):
    bad = {**hn_hit(1, T, "acme far future"), "created_at_i": created_at_i}
    ms, skipped = parse({"hits": [bad, hn_hit(2, T, "acme today")]})
    assert skipped == 1 and [m.external_id for m in ms] == ["2"]


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
    assert acme[0].arg("numericFilters") == (  # the newest hit seen (T - 60) minus 300 s
        f"created_at_i>{T - 60 - 300},created_at_i<={int(later.timestamp())}"
    )
    assert stored(store, as_set=True) == {"1", "2", "3"}


def test_hits_indexed_late_are_still_fetched(srv, store):
    # The index lags: at the first poll the newest indexed hit is an hour old, and a
    # comment made 30 minutes before that poll is indexed only afterwards.
    fake = AlgoliaFake([hn_hit(1, T - 3600, "acme an hour ago")])
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url), store, now=NOW, timeout=2)
    fake.add(hn_hit(2, T - 1800, "acme indexed late"), hn_hit(3, T + 600, "acme later"))
    listen_once(hn_settings(srv.url), store, now=NOW + timedelta(hours=1), timeout=2)
    assert stored(store, as_set=True) == {"1", "2", "3"}


def test_a_poll_that_sees_nothing_keeps_the_watermark(srv, store):
    fake = AlgoliaFake([hn_hit(1, T - 3600, "acme an hour ago")])
    srv.route(PATH, fake)
    settings = hn_settings(srv.url)
    listen_once(settings, store, now=NOW, timeout=2)
    src = settings.sources[0]
    assert store.get_cursor(src.key, "Acme") == {"watermark": T - 3600}
    listen_once(settings, store, now=NOW + timedelta(days=1), timeout=2)  # index stalled
    assert store.get_cursor(src.key, "Acme") == {"watermark": T - 3600}
    assert store.get_cursor(src.key, "Globex") == {"watermark": T - 7 * 86400}  # never a hit


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


def test_result_cap_is_found_when_hits_per_page_does_not_divide_it(srv, store):
    # 1,100 hits, 300 a page: Algolia serves 4 pages (1,200 > 1,100 by nbPages x
    # hitsPerPage) but stops at hit 1,000. The last 100 come from a narrower window.
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 1101)])
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url, hits_per_page=300), store, now=NOW, timeout=5)
    assert len(stored(store, as_set=True)) == 1100


def test_result_cap_is_found_when_nbhits_is_an_estimate(srv, store):
    # exhaustiveNbHits=false: nbHits may say 1,000 for a window that holds 1,200.
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 1201)])
    srv.route(PATH, lambda req: {**fake(req), "nbHits": 1000, "exhaustiveNbHits": False})
    listen_once(hn_settings(srv.url), store, now=NOW, timeout=5)
    assert len(stored(store, as_set=True)) == 1200


def test_a_garbled_timestamp_on_a_capped_page_does_not_stop_the_walk(srv, store):
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 151)], cap=100)
    bad = {**hn_hit("bad", T - 5, "acme garbled"), "created_at_i": "soon"}
    fake.page_hook = lambda req, hits: [*hits, bad]
    srv.route(PATH, fake)
    lines = listen_once(hn_settings(srv.url, hits_per_page=50), store, now=NOW, timeout=2)
    assert len(stored(store, as_set=True)) == 150
    assert lines[0].startswith("hackernews: ok"), lines


def test_a_page_of_only_garbled_hits_does_not_end_the_walk(srv, store):
    fake = AlgoliaFake([hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 31)])
    fake.page_hook = lambda req, hits: ["garbled"] * len(hits) if req.arg("page") == "1" else hits
    srv.route(PATH, fake)
    listen_once(hn_settings(srv.url, hits_per_page=10), store, now=NOW, timeout=2)
    assert stored(store, as_set=True) == {str(i) for i in [*range(1, 11), *range(21, 31)]}


def test_a_garbled_envelope_count_is_a_bad_payload(srv, store):
    srv.route(PATH, {"hits": [hn_hit(1, T - 5, "acme")], "nbPages": "many", "nbHits": 1})
    lines = listen_once(hn_settings(srv.url), store, now=NOW, timeout=2)
    assert "could not read" in lines[0], lines
    assert stored(store) == []


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
    assert store.get_cursor(src.key, q.key) == {"watermark": T - 10}  # the newest hit
    client.close()


def test_a_walk_saved_with_other_terms_is_walked_again_with_the_new_ones(srv, store):
    # A walk of ["zeta"] stopped at page 1; then "acme" was added before "zeta". Resuming
    # `term 0, page 1` would read acme from page 1 and never see acme's page 0.
    fake = AlgoliaFake(
        [hn_hit(i, T - i * 10, f"acme post {i}") for i in range(1, 16)]
        + [hn_hit(i, T - i * 10, f"zeta post {i}") for i in range(16, 31)]
    )
    srv.route(PATH, fake)
    raw = {
        "brand": {"name": "Acme", "terms": ["acme", "zeta"]},
        "sources": [{"platform": "hackernews", "base_url": srv.url, "hits_per_page": 10}],
    }
    settings = settings_from_dict(raw)
    src = settings.sources[0]
    walk = {"lower": T - 86400, "top": T, "upper": T, "term": 0, "page": 1, "terms": ['"zeta"']}
    store.save_page(src.key, "Acme", [], {"watermark": None, "walk": walk})
    listen_once(settings, store, now=NOW, timeout=2)
    assert len(stored(store, as_set=True)) == 30
    assert store.get_cursor(src.key, "Acme") == {"watermark": T - 10}


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

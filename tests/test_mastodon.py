"""Mastodon listener: pure parse on fixtures, then polling against a real local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES
from listener_util import listen_once, listener_for, live_poll, stored
from localserver import LocalServer, Reply

from earful.config import ConfigError
from listeners.base import Query, SourceError
from listeners.mastodon import (
    html_to_text,
    id_at,
    id_key,
    is_open,
    newest_id,
    parse,
    rescan_from,
    search_max_id,
    search_min_id,
    search_states,
    time_of,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
TAG = "/api/v1/timelines/tag/acme"


def load(name):
    return json.loads((FIXTURES / "mastodon" / name).read_text())


def make(base_url, secrets=None, **options):
    src = {"platform": "mastodon", "base_url": base_url, "hashtags": ["acme"], **options}
    return listener_for(src, now=NOW, secrets=secrets)


def run(listener, query, cursor):
    pages = list(listener.poll(query, cursor))
    saved = cursor
    for p in pages:
        if p.cursor is not None:
            saved = p.cursor
    return pages, saved


def tag_query(listener, settings):
    return next(q for q in listener.queries(settings.entities()) if q.key == "tag:acme")


# -- pure parsing ---------------------------------------------------------------
def test_html_to_text_drops_invisible_keeps_links_and_paragraphs():
    html = (
        '<p>Hi <a href="https://x.example/@a" class="u-url mention">@<span>a</span></a> '
        'see <a href="https://acme.example/x"><span class="invisible">https://</span>'
        '<span class="">acme.example/x</span><span class="invisible"></span></a><br>ok &amp; '
        "thanks</p><p>bye</p>"
    )
    assert html_to_text(html) == "Hi @a see acme.example/x\nok & thanks\n\nbye"
    assert html_to_text("") == ""
    assert html_to_text("<p>a</p><script>alert(1)</script>") == "a"


def test_parse_search_sample_uses_uri_for_dedupe_and_local_id_for_replies():
    mentions, skipped = parse(load("search.json"), "https://mastodon.social")
    assert skipped == 0
    first = mentions[0]
    assert first.external_id == "https://icosahedron.website/users/greg/statuses/116388148912635764"
    assert first.native_id == "116388149027005349"  # this instance's id, not the origin's
    assert first.url == "https://icosahedron.website/@greg/116388148912635764"
    assert first.author == "greg@icosahedron.website"
    assert first.author_followers == 455
    assert first.lang == "en"
    assert first.in_reply_to == "116387888508422624"
    assert first.created_at == datetime(2026, 4, 11, 21, 16, 53, tzinfo=UTC)
    assert "youtube.com/watch?v=MWCSw_cNxKc" in first.text
    assert "https://www." not in first.text  # the invisible prefix is gone
    assert "<" not in first.text
    assert mentions[1].engagement == 5


def test_parse_timeline_unwraps_boosts_handles_cw_and_skips_malformed():
    mentions, skipped = parse(load("tag_timeline.json"), "https://mastodon.example")
    assert skipped == 2  # no account; unparseable created_at
    by_id = {m.external_id: m for m in mentions}
    boost = by_id["https://fosstodon.example/users/kim/statuses/113499999999990001"]
    assert boost.author == "kim@fosstodon.example"  # the boosted post's author, not the booster
    assert boost.native_id == "113500000000000020"
    assert boost.text.startswith("Day three without sync on #acme cloud")
    assert boost.engagement == 12
    local = by_id["https://mastodon.example/users/ana/statuses/113500000000000040"]
    assert local.author == "ana@mastodon.example"  # local acct qualified with the instance
    assert local.text == (
        "Loving the new #Acme dashboard & the dark mode!\n"
        "Details: acme.example/blog/dark-m…\n\nSecond paragraph."
    )
    cw = by_id["https://chaos.example/users/cw/statuses/777"]
    assert cw.text.startswith("rant: acme billing\n\n")
    assert cw.url == cw.external_id  # url is null: fall back to the uri
    assert cw.author_followers is None and cw.lang is None


def test_parse_rejects_a_payload_that_is_not_statuses():
    with pytest.raises(SourceError) as err:
        parse({"error": "nope"}, "https://m.example")
    assert err.value.kind == "bad_payload"


def test_ids_are_compared_by_length_then_lexically():
    assert id_key("9") < id_key("10") < id_key("11")
    assert newest_id(["9", "100", "99"]) == "100"
    assert newest_id([], "5") == "5"
    assert newest_id([]) is None


# -- config and queries ---------------------------------------------------------
def test_options_reject_unknown_keys_and_bad_hashtags():
    with pytest.raises(ConfigError, match="hashtag"):
        make("http://127.0.0.1:9", hashtags=["not a tag"])
    with pytest.raises(ConfigError, match="tags"):
        make("http://127.0.0.1:9", tags=["acme"])


def test_queries_one_per_hashtag_and_search_only_with_token():
    listener, settings = make("http://127.0.0.1:9", hashtags=["#Acme", "globex"])
    keys = [q.key for q in listener.queries(settings.entities())]
    assert keys == ["tag:acme", "tag:globex"]
    globex = listener.queries(settings.entities())[1]
    assert globex.entity == "Globex"
    listener, settings = make(
        "http://127.0.0.1:9", secrets={"MT": "tok"}, hashtags=[], token_env="MT"
    )
    keys = [q.key for q in listener.queries(settings.entities())]
    # hashtags derived from single-word terms of every entity, then one search per entity
    assert keys == [
        "tag:acme",
        "tag:globex",
        "tag:initech",
        "search:Acme",
        "search:Globex",
        "search:Initech",
    ]
    only_phrases = {"Acme": ['"acme cloud"'], "Globex": ["globex.com"]}
    keys = [q.key for q in listener.queries(only_phrases)]
    assert keys[0] == "tag:acmecloud" and "tag:globex.com" not in keys


# -- a fake instance --------------------------------------------------------------
def status(n: int, text: str = "acme rocks", minutes_ago: int = 0) -> dict:
    created = NOW - timedelta(minutes=minutes_ago)
    sid = str(113_500_000_000_000_000 + n)
    return {
        "id": sid,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "uri": f"https://origin.example/users/u{n}/statuses/{n}",
        "url": f"https://origin.example/@u{n}/{n}",
        "content": f"<p>{text} #acme</p>",
        "spoiler_text": "",
        "language": "en",
        "account": {"id": str(n), "acct": f"u{n}@origin.example", "followers_count": n},
        "reblog": None,
    }


class FakeTimeline:
    """Mastodon's tag timeline paging: newest first, max_id/min_id/since_id, Link headers."""

    def __init__(self, statuses):
        self.statuses = list(statuses)

    def __call__(self, req):
        items = sorted(self.statuses, key=lambda s: id_key(s["id"]), reverse=True)
        limit = int(req.arg("limit") or 20)
        if req.arg("max_id"):
            items = [s for s in items if id_key(s["id"]) < id_key(req.arg("max_id"))]
        if req.arg("min_id"):
            newer = [s for s in items if id_key(s["id"]) > id_key(req.arg("min_id"))]
            page = newer[-limit:]  # the oldest `limit` newer ones, still newest first
        else:
            page = items[:limit]
        headers = {}
        if page:
            base = f"http://127.0.0.1{req.path}"
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply(200, page, headers)


# -- polling ---------------------------------------------------------------------
def test_first_poll_backfills_backwards_and_saves_the_newest_id():
    with LocalServer() as srv:
        old = [status(n, minutes_ago=60 * 24 * 10) for n in range(1, 6)]  # outside 7d
        fresh = [status(n, minutes_ago=100 - n) for n in range(10, 60)]
        srv.route(TAG, FakeTimeline(old + fresh))
        listener, settings = make(srv.url)
        pages, cursor = run(listener, tag_query(listener, settings), None)
        got = [m.native_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(s["id"] for s in fresh)  # old ones dropped, none twice
        assert cursor == {"min_id": fresh[-1]["id"]}
        assert pages[-1].done
        first, second = srv.served(TAG)[:2]
        assert first.query == {"limit": ["40"]}
        assert "authorization" not in first.headers
        assert second.arg("max_id") == fresh[-40]["id"]  # followed Link rel="next"
        assert all(p.cursor is None for p in pages[:-1])  # saved only once the walk is done


def test_forward_paging_follows_prev_links_with_no_gap_and_no_double():
    with LocalServer() as srv:
        fake = FakeTimeline([status(n) for n in range(1, 6)])
        srv.route(TAG, fake)
        # the walk itself, without re-reading the overlap (tested below)
        listener, settings = make(srv.url, overlap_seconds=0)
        query = tag_query(listener, settings)
        _, cursor = run(listener, query, None)
        assert cursor == {"min_id": status(5)["id"]}
        fake.statuses += [status(n) for n in range(6, 101)]  # 95 new: more than two pages
        pages, cursor = run(listener, query, cursor)
        got = [m.native_id for p in pages for m in p.mentions]
        assert sorted(got, key=id_key) == [status(n)["id"] for n in range(6, 101)]
        assert [len(p.mentions) for p in pages] == [40, 40, 15]
        # each page carries its own cursor: a crash after any page resumes right there
        assert [p.cursor for p in pages] == [
            {"min_id": status(45)["id"]},
            {"min_id": status(85)["id"]},
            {"min_id": status(100)["id"]},
        ]
        assert pages[-1].done
        reqs = srv.served(TAG)[-3:]
        assert [r.arg("min_id") for r in reqs] == [
            status(5)["id"],
            status(45)["id"],
            status(85)["id"],
        ]
        # nothing new: one request, nothing yielded, cursor unchanged
        pages, again = run(listener, query, cursor)
        assert again == cursor and not [m for p in pages for m in p.mentions]


def test_overlapping_pages_are_not_doubled_within_a_page():
    with LocalServer() as srv:
        s = status(1)
        srv.route(TAG, Reply(200, [s, s, {**s, "id": status(2)["id"]}]))
        listener, settings = make(srv.url)
        pages, _ = run(listener, tag_query(listener, settings), {"min_id": "1"})
        assert len([m for p in pages for m in p.mentions]) == 1


def test_401_says_the_instance_requires_login_for_hashtag_feeds():
    with LocalServer() as srv:
        srv.route(TAG, Reply(401, {"error": "This API requires an authenticated user"}))
        listener, settings = make(srv.url)
        with pytest.raises(SourceError) as err:
            list(listener.poll(tag_query(listener, settings), None))
        assert err.value.kind == "needs_credentials"
        assert "requires login for hashtag feeds" in err.value.message


def test_empty_feed_on_a_restricted_instance_needs_credentials():
    with LocalServer() as srv:
        srv.route(TAG, [])
        srv.route("/api/v2/instance", load("instance_restricted.json"))
        listener, settings = make(srv.url)
        with pytest.raises(SourceError) as err:
            list(listener.poll(tag_query(listener, settings), None))
        assert err.value.kind == "needs_credentials"
        assert "127.0.0.1 requires login for hashtag feeds (#acme)" in err.value.message


def test_empty_feed_on_a_public_instance_is_just_quiet():
    with LocalServer() as srv:
        srv.route(TAG, [])
        srv.route("/api/v2/instance", load("instance_public.json"))
        listener, settings = make(srv.url)
        pages, cursor = run(listener, tag_query(listener, settings), None)
        assert cursor is None and pages[-1].done
        assert not [m for p in pages for m in p.mentions]


# -- end to end through the poller ----------------------------------------------
def test_listen_once_fills_the_store_exactly_through_faults(any_store):
    with LocalServer() as srv:
        fake = FakeTimeline([status(n) for n in range(1, 31)])
        srv.route(TAG, fake)
        _, settings = make(srv.url)
        listen_once(settings, any_store, now=NOW)
        assert stored(any_store, column="native_id") == sorted(
            status(n)["id"] for n in range(1, 31)
        )
        fake.statuses += [status(n) for n in range(31, 131)]
        srv.fault(TAG, "503")
        srv.fault(TAG, "truncated", body=[status(999)])
        srv.fault(TAG, "429")
        lines = listen_once(settings, any_store, now=NOW)
        assert "ok" in lines[0]
        assert stored(any_store, column="native_id") == sorted(
            status(n)["id"] for n in range(1, 131)
        )
        lines = listen_once(settings, any_store, now=NOW)  # caught up: nothing new, nothing twice
        assert stored(any_store, column="native_id") == sorted(
            status(n)["id"] for n in range(1, 131)
        )


def test_health_says_the_instance_requires_login(sqlite_store):
    from earful.poller import status_rows

    with LocalServer() as srv:
        srv.route(TAG, [])
        srv.route("/api/v2/instance", load("instance_restricted.json"))
        _, settings = make(srv.url)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "requires login for hashtag feeds" in lines[0]
        row = status_rows(settings, sqlite_store, NOW)[0]
        assert row["status"] == "needs credentials"
        assert "requires login for hashtag feeds" in row["last_error"]
        assert row["sees"].startswith("Hashtag timelines see public posts")


# -- late federation: snowflake ids below the cursor -------------------------------
def snowflake(at: datetime, seq: int = 0) -> str:
    """Mastodon's id for a status written at `at`: (epoch ms << 16) | sequence."""
    return str((int(at.timestamp() * 1000) << 16) | seq)


def post(n: int, minutes_ago: float) -> dict:
    """A status whose id comes from its created_at, as a remote one's does on arrival."""
    at = NOW - timedelta(minutes=minutes_ago)
    return {
        **status(n),
        "id": snowflake(at, n),
        "created_at": at.isoformat().replace("+00:00", "Z"),
    }


def test_snowflake_time_and_rescan_start():
    at = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
    sid = snowflake(at, 7)
    assert time_of(sid, NOW) == int(at.timestamp() * 1000)
    assert id_at(time_of(sid, NOW)) == snowflake(at)  # sequence bits cleared
    assert rescan_from(sid, timedelta(minutes=15), NOW) == snowflake(at - timedelta(minutes=15))
    assert rescan_from(sid, timedelta(0), NOW) is None  # overlap off
    for other in (
        "AbCdEfGh12",  # Pleroma/Akkoma flake id
        "01JDQ7Z8K3M5N6P7Q8R9S0T1V2",  # GoToSocial ULID
        "12345",  # a sequential id from before snowflakes
        "9" * 30,  # numeric but not a time (would decode far in the future)
        "0" + sid,  # leading zero: not an id Mastodon writes
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧",  # non-ASCII digits
        "",
    ):
        assert time_of(other, NOW) is None, other
        assert rescan_from(other, timedelta(minutes=15), NOW) is None, other


def test_late_federated_post_within_the_overlap_is_stored_once(any_store):
    from earful.poller import status_rows

    with LocalServer() as srv:
        first = [post(n, minutes_ago=60 - n) for n in range(1, 21)]  # 59..40 minutes ago
        fake = FakeTimeline(first)
        srv.route(TAG, fake)
        _, settings = make(srv.url)
        key = settings.sources[0].key
        listen_once(settings, any_store, now=NOW)
        assert any_store.get_cursor(key, "tag:acme") == {"min_id": first[-1]["id"]}
        late = post(900, minutes_ago=50)  # written 10 min before the cursor, arrives now
        newer = [post(n, minutes_ago=50 - n) for n in range(21, 26)]  # above the cursor
        assert id_key(late["id"]) < id_key(first[-1]["id"])
        fake.statuses += [late, *newer]
        lines = listen_once(settings, any_store, now=NOW)
        server_set = sorted(s["uri"] for s in fake.statuses)
        assert stored(any_store) == server_set  # the late one too, and nothing twice
        # posts of the 15 minutes below the cursor were read again: stored, not new
        again = [s for s in first if 60 - int(s["account"]["id"]) <= 55]
        assert f"6 new, {len(again)} already stored" in lines[0], lines
        row = status_rows(settings, any_store, NOW)[0]
        assert row["items_last_poll"] == 6
        assert any_store.get_cursor(key, "tag:acme") == {"min_id": newer[-1]["id"]}
        # nothing new: the re-read finds only stored posts and the cursor stays put
        lines = listen_once(settings, any_store, now=NOW)
        assert "0 new" in lines[0], lines
        assert stored(any_store) == server_set
        assert any_store.get_cursor(key, "tag:acme") == {"min_id": newer[-1]["id"]}


def test_a_post_later_than_the_overlap_is_not_fetched_unless_the_overlap_is_raised():
    with LocalServer() as srv:
        seen = [post(n, minutes_ago=40 - n) for n in range(1, 6)]
        cursor = {"min_id": seen[-1]["id"]}  # written 35 minutes ago
        late = post(901, minutes_ago=40 - 5 + 20)  # 20 minutes older than the cursor
        srv.route(TAG, FakeTimeline([*seen, late]))
        listener, settings = make(srv.url)
        pages, saved = run(listener, tag_query(listener, settings), cursor)
        got = {m.native_id for p in pages for m in p.mentions}
        assert late["id"] not in got  # the documented limit: later than overlap_seconds
        assert got == {s["id"] for s in seen}  # the 15-minute window was read again
        assert saved == cursor  # nothing newer: the cursor neither moves nor goes back
        assert all(p.cursor is None for p in pages)
        start = srv.served(TAG)[0].arg("min_id")
        assert start == snowflake(NOW - timedelta(minutes=35 + 15))
        listener, settings = make(srv.url, overlap_seconds=30 * 60)  # per-source override
        pages, saved = run(listener, tag_query(listener, settings), cursor)
        assert late["id"] in {m.native_id for p in pages for m in p.mentions}
        assert saved == cursor


def test_a_busy_overlap_is_re_read_only_partly_so_the_walk_still_moves_forward():
    with LocalServer() as srv:
        seen = [post(n, minutes_ago=10) for n in range(1, 31)]  # 30 posts in one millisecond
        fresh = [post(n, minutes_ago=5) for n in range(31, 34)]
        srv.route(TAG, FakeTimeline(seen + fresh))
        listener, settings = make(srv.url, limit=5, max_pages=4)
        cursor = seen[-1]["id"]
        pages, saved = run(listener, tag_query(listener, settings), {"min_id": cursor})
        reqs = srv.served(TAG)
        # two pages of re-read (max_pages // 2), then straight to the cursor
        assert [r.arg("min_id") for r in reqs] == [
            snowflake(NOW - timedelta(minutes=25)),
            seen[4]["id"],
            cursor,
        ]
        got = [m.native_id for p in pages for m in p.mentions]
        assert [s["id"] for s in fresh] == sorted(got[-3:], key=id_key)
        assert saved == {"min_id": fresh[-1]["id"]}
        assert [p.cursor for p in pages] == [None, None, {"min_id": fresh[-1]["id"]}]


@pytest.mark.parametrize(
    "ids",
    [
        [f"AbC{n:07d}x" for n in range(1, 60)],  # Pleroma/Akkoma-like flake ids
        [f"01JDQ7Z8K3M5N6P7Q8R9{n:06d}" for n in range(1, 60)],  # GoToSocial ULIDs
        [str(100_000 + n) for n in range(1, 60)],  # small sequential numbers
    ],
    ids=["flake", "ulid", "sequential"],
)
def test_ids_that_are_not_snowflakes_walk_from_the_cursor_as_before(ids):
    with LocalServer() as srv:
        statuses = [{**status(n), "id": sid} for n, sid in enumerate(ids, 1)]
        fake = FakeTimeline(statuses[:5])
        srv.route(TAG, fake)
        listener, settings = make(srv.url)
        query = tag_query(listener, settings)
        fake.statuses = statuses
        pages, cursor = run(listener, query, {"min_id": ids[4]})
        assert [r.arg("min_id") for r in srv.served(TAG)] == [ids[4], ids[44]]
        assert [p.cursor for p in pages] == [{"min_id": ids[44]}, {"min_id": ids[-1]}]
        assert sorted((m.native_id for p in pages for m in p.mentions), key=id_key) == ids[5:]


# -- full-text search: a walk down each window that always moves on --------------------
def found(n: int, at: datetime, skew_ms: int = 0) -> dict:
    """A searchable status whose id is minted at `at` and whose created_at is `skew_ms` later
    (a local post: its id comes from the transaction's start, its created_at a moment after)."""
    created = at + timedelta(milliseconds=skew_ms)
    return {
        **status(n),
        "id": snowflake(at, n % 65536),
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def created_ms(s: dict) -> int:
    dt = datetime.fromisoformat(s["created_at"])
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def second_of(status_id: str) -> int:
    """Mastodon's `Snowflake.to_time(id)`: whole seconds."""
    return (int(status_id) >> 16) // 1000


class FakeSearch:
    """`/api/v2/search?type=statuses` as Mastodon 4.2-4.5 answers it.

    Hits are sorted by id, newest first (`order(id: :desc)`); `min_id` and
    `max_id` become `after:`/`before:` on created_at in whole seconds, the
    bound's own second left out (Elasticsearch rounds a `gt` bound up to the
    end of its second); `limit` and `offset` count hits *before* the server
    drops the statuses it hides from this account (`hidden`). With
    `newest_first=False` hits come in a fixed, relevance-like order instead.
    """

    def __init__(self, statuses, hidden=(), newest_first=True):
        self.statuses = list(statuses)
        self.hidden = set(hidden)
        self.newest_first = newest_first
        self.fail_on: int | None = None  # answer this request (1-based) with a 401
        self.calls = 0

    def visible(self):
        return sorted(s["uri"] for s in self.statuses if s["uri"] not in self.hidden)

    def __call__(self, req):
        self.calls += 1
        if self.calls == self.fail_on:
            return Reply(401, {"error": "The access token is invalid"})
        assert req.headers["authorization"] == "Bearer tok" and req.arg("type") == "statuses"
        hits = list(self.statuses)
        if req.arg("min_id"):
            after = second_of(req.arg("min_id"))
            hits = [s for s in hits if created_ms(s) >= (after + 1) * 1000]
        if req.arg("max_id"):
            before = second_of(req.arg("max_id"))
            hits = [s for s in hits if created_ms(s) < before * 1000]
        if self.newest_first:
            hits.sort(key=lambda s: int(s["id"]), reverse=True)
        else:
            hits.sort(key=lambda s: s["uri"][::-1])
        offset, limit = int(req.arg("offset") or 0), int(req.arg("limit") or 20)
        page = [s for s in hits[offset : offset + limit] if s["uri"] not in self.hidden]
        return {"accounts": [], "statuses": page, "hashtags": []}


SEARCH = "/api/v2/search"


def search_source(srv, **options):
    """A source whose only search is `acme` (one term: requests per poll are easy to count)."""
    srv.route(TAG, [])
    return make(srv.url, secrets={"MT": "tok"}, token_env="MT", query="acme", **options)


def term_state(store, settings):
    cursor = store.get_cursor(settings.sources[0].key, "search:custom")
    return (cursor or {}).get("terms", {}).get("acme", {})


def busy_history(start: datetime) -> list[dict]:
    """About 150 posts over two hours, with a burst of 25 in one millisecond and local posts
    whose created_at falls in the second after their id's."""
    out = [found(n, start + timedelta(seconds=47 * n)) for n in range(1, 121)]
    burst = start + timedelta(minutes=30, milliseconds=400)
    out += [found(n, burst) for n in range(200, 225)]
    out += [
        found(n, start + timedelta(minutes=50, seconds=n, milliseconds=900), skew_ms=300)
        for n in range(300, 306)
    ]
    return out


def test_search_bounds_keep_the_boundary_seconds():
    at = datetime(2026, 11, 25, 12, 0, 0, 500000, tzinfo=UTC)
    sid = snowflake(at, 3)
    # max_id: two seconds above the lowest id's second (its own second and the skew stay in)
    assert second_of(search_max_id(sid, NOW)) == second_of(sid) + 2
    # min_id: the second before the watermark's (after: leaves min_id's second out)
    assert search_min_id(sid, timedelta(0), NOW) == snowflake(
        at.replace(microsecond=0) - timedelta(seconds=1)
    )
    low = search_min_id(sid, timedelta(minutes=15), NOW)
    assert second_of(low) == second_of(sid) - 15 * 60 - 1
    assert search_min_id(None, timedelta(minutes=15), NOW) is None
    # ids that are not snowflakes keep the documented id semantics
    assert search_max_id("AbC0000042x", NOW) == "AbC0000042x"
    assert search_min_id("AbC0000042x", timedelta(minutes=15), NOW) == "AbC0000042x"
    # the old cursor shape gives every term the same watermark; unknown terms start afresh
    assert search_states({"min_id": sid}, ["a", "b"]) == {
        "a": {"min_id": sid},
        "b": {"min_id": sid},
    }
    new = {"terms": {"a": {"min_id": sid, "gap_max_id": "1", "newest": sid}}}
    assert search_states(new, ["a", "b"]) == {"a": new["terms"]["a"], "b": {}}
    assert search_states(None, ["a"]) == {"a": {}}
    assert search_states({"terms": {"a": "garbage"}}, ["a"]) == {"a": {}}


def test_search_of_a_busy_brand_catches_up_over_polls_with_none_lost_and_none_twice(any_store):
    with LocalServer() as srv:
        start = NOW - timedelta(hours=2)
        history = busy_history(start)
        hidden = {s["uri"] for s in history[::13]}  # limited accounts: pages come back short
        fake = FakeSearch(history, hidden)
        srv.route(SEARCH, fake)
        _, settings = search_source(srv, limit=10, max_pages=3)
        new_total, before, marks, late = 0, 0, [], None
        prev: dict = {}
        for poll in range(60):
            now = NOW + timedelta(minutes=poll)
            if poll < 8:  # brand-new posts keep arriving above the walk
                fresh = [found(1000 + 3 * poll + k, now - timedelta(seconds=k)) for k in range(3)]
                fake.statuses += fresh
            if late is None and prev.get("min_id") and not is_open(prev):
                # federated late: written 5 minutes before the newest post already stored
                written = datetime.fromtimestamp((int(prev["min_id"]) >> 16) / 1000, UTC)
                late = found(2000, written - timedelta(minutes=5))
                fake.statuses.append(late)
            res = live_poll(settings, any_store, now)
            assert res.error is None, res.summary()
            new_total += res.new
            asked = srv.served(SEARCH)[before:]
            before += len(asked)
            assert 1 <= len(asked) <= 3  # max_pages per term per poll
            st = term_state(any_store, settings)
            assert res.more == is_open(st)  # an unfinished step brings the next poll forward
            if prev.get("min_id"):  # the watermark never moves back
                assert id_key(st["min_id"]) >= id_key(prev["min_id"])
            same_step = st.get("min_id") == prev.get("min_id")
            if same_step and "gap_max_id" in prev and "gap_max_id" in st:
                assert id_key(st["gap_max_id"]) <= id_key(prev["gap_max_id"])  # gap only closes
            marks.append(st.get("min_id"))
            prev = st
            if poll >= 8 and late is not None and not is_open(st):
                break
        else:
            raise AssertionError("the search never caught up")
        assert late is not None and late["uri"] in stored(any_store, as_set=True)
        assert stored(any_store) == fake.visible()
        assert new_total == len(fake.visible())  # each stored once; re-reads "already stored"
        assert len({m for m in marks if m}) >= 3  # several steps, each moving the watermark up
        assert any(r.arg("max_id") for r in srv.served(SEARCH))


def test_once_catches_a_busy_brand_up_in_one_run(any_store):
    with LocalServer() as srv:
        history = busy_history(NOW - timedelta(hours=2))
        fake = FakeSearch(history, {s["uri"] for s in history[::13]})
        srv.route(SEARCH, fake)
        _, settings = search_source(srv, limit=10, max_pages=3)
        lines = listen_once(settings, any_store, now=NOW)
        assert "FAILED" not in lines[0], lines
        assert stored(any_store) == fake.visible()  # walked again while the listener had more
        assert not is_open(term_state(any_store, settings))
        assert len(srv.served(SEARCH)) > 3  # more than one walk of max_pages


def test_more_hits_in_one_second_than_a_page_are_paged_by_offset():
    with LocalServer() as srv:
        at = NOW - timedelta(hours=1)
        above = [found(n, at + timedelta(minutes=n)) for n in range(1, 6)]
        burst = [found(n, at + timedelta(milliseconds=n)) for n in range(100, 125)]
        below = [found(n, at - timedelta(minutes=n)) for n in range(1001, 1006)]
        fake = FakeSearch(above + burst + below)
        srv.route(SEARCH, fake)
        listener, _ = search_source(srv, limit=10)
        pages, cursor = run(listener, Query("search:custom", "Acme", (), "acme"), None)
        got = [m.native_id for p in pages for m in p.mentions]
        assert set(got) == {s["id"] for s in fake.statuses}
        asked = [(r.arg("max_id"), r.arg("offset")) for r in srv.served(SEARCH)]
        burst_top = snowflake(at.replace(microsecond=0) + timedelta(seconds=2))
        # the burst's second cannot lower max_id: the same window is paged by offset
        assert asked[1:4] == [(burst_top, None), (burst_top, "10"), (burst_top, "20")]
        assert cursor == {"terms": {"acme": {"min_id": above[-1]["id"]}}}


def test_a_local_post_created_a_second_after_its_id_is_not_lost():
    with LocalServer() as srv:
        sec = NOW.replace(microsecond=0) - timedelta(hours=1)
        above = [found(n, sec + timedelta(minutes=n)) for n in range(1, 5)]
        lowest = found(10, sec + timedelta(milliseconds=950))  # the full page's lowest id
        local = found(11, sec + timedelta(milliseconds=900), skew_ms=200)  # created_at: next second
        older = found(12, sec - timedelta(minutes=3))
        fake = FakeSearch([*above, lowest, local, older])
        srv.route(SEARCH, fake)
        listener, _ = search_source(srv, limit=5)
        pages, _ = run(listener, Query("search:custom", "Acme", (), "acme"), None)
        assert srv.served(SEARCH)[1].arg("max_id") == snowflake(sec + timedelta(seconds=2))
        got = {m.native_id for p in pages for m in p.mentions}
        assert got == {s["id"] for s in fake.statuses}


def test_the_re_read_below_the_watermark_is_capped_per_step():
    with LocalServer() as srv:
        mark = found(1, NOW - timedelta(minutes=30))
        stored_before = [
            found(n, NOW - timedelta(minutes=30, seconds=30 * n)) for n in range(2, 32)
        ]
        fresh = [found(n, NOW - timedelta(minutes=30 - n)) for n in range(40, 43)]
        srv.route(SEARCH, FakeSearch([mark, *stored_before, *fresh]))
        listener, _ = search_source(srv, limit=5, max_pages=4)
        query = Query("search:custom", "Acme", (), "acme")
        pages, cursor = run(listener, query, {"min_id": mark["id"]})
        asked = srv.served(SEARCH)
        # one page reaching below the watermark, then max_pages // 2 pages of re-read only
        assert len(asked) == 3
        assert all(id_key(r.arg("max_id")) <= id_key(mark["id"]) for r in asked[1:])
        got = {m.native_id for p in pages for m in p.mentions}
        assert {s["id"] for s in fresh} <= got
        assert cursor == {"terms": {"acme": {"min_id": fresh[-1]["id"]}}}
        assert pages[-2].mentions == [] and pages[-2].cursor == cursor  # closed by the cap


def test_an_old_cursor_continues_from_its_watermark_with_its_second_included():
    with LocalServer() as srv:
        at = NOW - timedelta(hours=1)
        seen = found(1, at)  # the old cursor's id
        same_second = found(2, at + timedelta(milliseconds=300))  # arrived after that poll
        older = found(3, at - timedelta(hours=2))  # below the window: not asked for
        newer = [found(n, at + timedelta(minutes=n)) for n in range(4, 9)]
        fake = FakeSearch([seen, same_second, older, *newer])
        srv.route(SEARCH, fake)
        listener, _ = search_source(srv, overlap_seconds=0)
        pages, cursor = run(
            listener, Query("search:custom", "Acme", (), "acme"), {"min_id": seen["id"]}
        )
        first = srv.served(SEARCH)[0]
        assert first.arg("min_id") == snowflake(at - timedelta(seconds=1))
        assert first.arg("max_id") is None and first.arg("offset") is None
        got = {m.native_id for p in pages for m in p.mentions}
        assert got == {s["id"] for s in [seen, same_second, *newer]}
        assert cursor == {"terms": {"acme": {"min_id": newer[-1]["id"]}}}
        assert pages[-1].done


def test_a_poll_that_fails_mid_gap_resumes_where_it_left_off(sqlite_store):
    with LocalServer() as srv:
        history = [found(n, NOW - timedelta(minutes=200 - n)) for n in range(1, 101)]
        fake = FakeSearch(history)
        srv.route(SEARCH, fake)
        _, settings = search_source(srv, limit=10, max_pages=5)
        live_poll(settings, sqlite_store, NOW)  # five pages of the backfill step
        gap = term_state(sqlite_store, settings)
        assert "gap_max_id" in gap and "min_id" not in gap
        fake.calls, fake.fail_on = 0, 3  # the third request of the next poll fails
        res = live_poll(settings, sqlite_store, NOW)
        assert res.error is not None and "needs credentials" in res.summary()
        asked = srv.served(SEARCH)[-3:]
        assert asked[0].arg("max_id") == gap["gap_max_id"]  # continued the gap, not the top
        kept = term_state(sqlite_store, settings)
        assert id_key(kept["gap_max_id"]) < id_key(gap["gap_max_id"])  # the two good pages count
        assert kept["newest"] == gap["newest"] == history[-1]["id"]
        fake.fail_on = None
        asked_before = len(srv.served(SEARCH))
        live_poll(settings, sqlite_store, NOW)
        resumed = srv.served(SEARCH)[asked_before]
        assert resumed.arg("max_id") == kept["gap_max_id"]
        assert resumed.arg("offset") == (str(kept["offset"]) if "offset" in kept else None)
        listen_once(settings, sqlite_store, now=NOW)  # --once: walks until caught up
        assert stored(sqlite_store) == fake.visible()
        assert term_state(sqlite_store, settings) == {"min_id": history[-1]["id"]}


def test_results_not_newest_first_are_paged_by_offset_and_still_complete(sqlite_store):
    with LocalServer() as srv:
        history = [found(n, NOW - timedelta(minutes=100 - n)) for n in range(1, 46)]
        fake = FakeSearch(history, newest_first=False)
        srv.route(SEARCH, fake)
        _, settings = search_source(srv, limit=10, max_pages=2)
        # 45 hits, 10 a page, 2 pages a walk: --once walks three times, the last page empty
        listen_once(settings, sqlite_store, now=NOW)
        assert term_state(sqlite_store, settings) == {"min_id": history[-1]["id"]}
        assert stored(sqlite_store) == fake.visible()
        assert not any(r.arg("max_id") for r in srv.served(SEARCH))  # no order: never narrowed
        offsets = [r.arg("offset") for r in srv.served(SEARCH)]
        assert offsets == [None, "10", "20", "30", "40", "50"]


def test_search_sends_the_token_and_one_walk_per_term():
    with LocalServer() as srv:
        sample = load("search.json")["statuses"]
        fake = FakeSearch(sample)
        srv.route(SEARCH, fake)
        srv.route(TAG, [])
        listener, settings = make(srv.url, secrets={"MT": "tok"}, token_env="MT")
        assert "search:Acme" in [q.key for q in listener.queries(settings.entities())]
        query = Query("search:Acme", "Acme", ("acme", '"acme cloud"', '"globex cloud"'))
        pages, cursor = run(listener, query, {"min_id": "116388000000000000"})
        reqs = srv.served(SEARCH)
        # "acme cloud" is covered by acme: not asked; each term's step ends with an empty page
        assert [r.arg("q") for r in reqs] == ["acme", "acme", '"globex cloud"', '"globex cloud"']
        since = search_min_id("116388000000000000", timedelta(minutes=15), NOW)
        assert all(r.arg("min_id") == since and r.arg("limit") == "40" for r in reqs)
        assert [r.arg("offset") for r in reqs] == [None, "40", None, "40"]  # short pages
        newest = max((s["id"] for s in sample), key=id_key)
        assert cursor == {
            "terms": {"acme": {"min_id": newest}, '"globex cloud"': {"min_id": newest}}
        }

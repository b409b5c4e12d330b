"""Bluesky listener: pure parse on fixtures, session handling and paging against a local server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, listener_for, live_poll, stored
from localserver import LocalServer, Reply

from earful.config import settings_from_dict
from listeners import _http
from listeners.base import Query, SourceError
from listeners.bluesky import (
    is_open,
    jwt_expiry,
    parse,
    sort_at,
    term_states,
    web_url,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
PROFILES = "/xrpc/app.bsky.actor.getProfiles"
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
SECRETS = {"BSKY_ID": "acme.bsky.social", "BSKY_PW": "abcd-efgh-ijkl-mnop"}
QUERY = Query("Acme", "Acme", ("acme",))


def load(name):
    return json.loads((FIXTURES / "bluesky" / name).read_text())


def jwt(exp: datetime, sub: str = "did:plc:me") -> str:
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'ES256K'})}.{b64({'sub': sub, 'exp': int(exp.timestamp())})}.sig"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def make(base_url, secrets=None, clock=None, **options):
    src = {"platform": "bluesky", "base_url": base_url, "public_url": base_url, **options}
    return listener_for(src, now=NOW, secrets=secrets, clock=clock)[0]


def logged_in(base_url, clock=None, **options):
    return make(
        base_url,
        SECRETS,
        clock,
        identifier_env="BSKY_ID",
        password_env="BSKY_PW",
        **options,
    )


def closed(since, term="acme"):
    """The cursor of a caught-up term: its watermark only."""
    return {"terms": {term: {"since": since}}}


def run(listener, cursor, query=QUERY):
    pages = list(listener.poll(query, cursor))
    saved = cursor
    for p in pages:
        if p.cursor is not None:
            saved = p.cursor
    return pages, saved


def post(n: int, minutes_ago: float, text: str = "acme is great", author: int | None = None):
    at = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    did = f"did:plc:author{author if author is not None else n}"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/rk{n}",
        "cid": f"bafycid{n}",
        "author": {"did": did, "handle": f"user{n}.bsky.social"},
        "record": {"$type": "app.bsky.feed.post", "createdAt": at, "text": text},
        "indexedAt": at,
        "likeCount": 1,
    }


class FakeAppView:
    """searchPosts (latest first by sortAt, `since` inclusive and `until` exclusive on sortAt,
    cursor = offset), getProfiles,
    createSession/refreshSession with JWTs; cursor paging only for authenticated calls."""

    def __init__(self, posts=(), lifetime=timedelta(hours=2)):
        self.posts = list(posts)
        self.lifetime = lifetime
        self.issued = 0
        self.valid: set[str] = set()
        self.refuse_until = False  # a public host that refuses `until` as it refuses cursors
        self.send_cursor = True  # False: never says there is more
        self.cursor_depth = None  # a cursor past this offset finds nothing (scrolling ends early)
        self.broken_after = None  # searches answered before every later one fails with a 500

    def install(self, srv):
        srv.route(SEARCH, self.search)
        srv.route(PROFILES, self.profiles)
        srv.route(CREATE, self.create)
        srv.route(REFRESH, self.refresh)

    def _tokens(self):
        self.issued += 1
        access = jwt(NOW + self.lifetime + timedelta(seconds=self.issued))
        self.valid.add(access)
        return {"accessJwt": access, "refreshJwt": f"refresh-{self.issued}", "did": "did:plc:me"}

    def create(self, req):
        body = req.json()
        if (body["identifier"], body["password"]) != tuple(SECRETS.values()):
            return Reply(401, {"error": "AuthenticationRequired", "message": "Invalid password"})
        return self._tokens()

    def refresh(self, req):
        if not req.headers.get("authorization", "").startswith("Bearer refresh-"):
            return Reply(400, {"error": "InvalidToken"})
        return self._tokens()

    def search(self, req):
        if self.broken_after is not None:
            if self.broken_after <= 0:
                return Reply(500, {"error": "InternalServerError"})
            self.broken_after -= 1
        auth = req.headers.get("authorization", "").removeprefix("Bearer ")
        if auth and auth not in self.valid:
            return Reply(400, {"error": "ExpiredToken"})
        q = (req.arg("q") or "").strip('"').lower()
        since, until = req.arg("since"), req.arg("until")
        hits = [p for p in self.posts if q in p["record"]["text"].lower()]
        if since:  # inclusive, on sortAt
            hits = [p for p in hits if sort_at(p) >= _http.iso(since)]
        if until:  # exclusive, on sortAt
            if self.refuse_until and not auth:
                return Reply(403, "Request forbidden by administrative rules")
            hits = [p for p in hits if sort_at(p) < _http.iso(until)]
        hits.sort(key=sort_at, reverse=True)
        start = int(req.arg("cursor") or 0)
        if start and not auth:
            return Reply(403, "Request forbidden by administrative rules")
        limit = int(req.arg("limit") or 25)
        page = hits[start : start + limit]
        if self.cursor_depth is not None and start >= self.cursor_depth:
            page = []
        out = {"posts": page}
        if start + limit < len(hits) and self.send_cursor and page:
            out["cursor"] = str(start + limit)
        return out

    def profiles(self, req):
        actors = req.query.get("actors", [])
        assert len(actors) <= 25
        return {"profiles": [{"did": a, "followersCount": 1000 + len(a)} for a in actors]}


# -- pure parsing ---------------------------------------------------------------
def test_parse_sample_builds_web_url_native_id_and_reply_refs():
    mentions, skipped = parse(load("searchPosts.json"))
    assert skipped == 0
    reply, hello = mentions
    assert (
        reply.external_id
        == "at://did:plc:kvwvcn5iqfooopmyzvb4qzba/app.bsky.feed.post/3k44deefqdk2g"
    )
    assert reply.native_id == (
        reply.external_id + "|bafyreiecx6dujwoeqpdzl27w67z4h46hyklk3an4i4cvvmioaqb2qbyo5u"
    )
    assert (
        reply.url == "https://bsky.app/profile/did:plc:kvwvcn5iqfooopmyzvb4qzba/post/3k44deefqdk2g"
    )
    assert reply.author == "test.marshal.dev"
    assert reply.text == "example of a reply"
    assert reply.lang == "en"
    assert reply.in_reply_to == (
        "at://did:plc:u5cwb2mwiv2bfq53cjufe6yn/app.bsky.feed.post/3k43tv4rft22g"
    )
    assert reply.created_at == datetime(2023, 8, 7, 5, 49, 40, 501974, tzinfo=UTC)
    assert hello.engagement == 15 and hello.in_reply_to is None
    assert hello.thread_id == hello.external_id


def test_parse_extra_clamps_future_dates_dedupes_and_skips_malformed():
    followers = {"did:plc:abcabcabcabcabcabcabcabc": 321}
    mentions, skipped = parse(load("searchPosts_extra.json"), followers)
    assert skipped == 1  # the post without a cid
    assert len(mentions) == 2  # the duplicate uri counted once
    future, german = mentions
    assert future.created_at == datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)  # not 2031
    assert future.author_followers == 321 and future.lang is None
    assert german.lang == "de"
    assert german.created_at == datetime(2026, 11, 25, 10, 59, 58, 123456, tzinfo=UTC)


def test_parse_rejects_a_payload_without_posts():
    with pytest.raises(SourceError) as err:
        parse({"error": "InternalServerError"})
    assert err.value.kind == "bad_payload"


def test_web_url_and_jwt_expiry():
    assert web_url("at://did:plc:x/app.bsky.feed.post/abc") == (
        "https://bsky.app/profile/did:plc:x/post/abc"
    )
    with pytest.raises(ValueError):
        web_url("at://did:plc:x/app.bsky.feed.like/abc")
    exp = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert jwt_expiry(jwt(exp)) == exp
    assert jwt_expiry("not-a-jwt") is None


# -- sessions -------------------------------------------------------------------
def test_logs_in_once_per_process_and_refreshes_when_the_jwt_expires():
    with LocalServer() as srv:
        fake = FakeAppView([post(1, 30)])
        fake.install(srv)
        clock = Clock(NOW)
        listener = logged_in(srv.url, clock)
        _, cursor = run(listener, None)
        _, cursor = run(listener, cursor)
        assert len(srv.served(CREATE)) == 1  # never log in per poll
        assert srv.served(CREATE)[0].json() == {
            "identifier": "acme.bsky.social",
            "password": "abcd-efgh-ijkl-mnop",
        }
        first_token = srv.served(SEARCH)[0].headers["authorization"]
        assert first_token.startswith("Bearer ey")
        clock.now = NOW + timedelta(hours=3)  # the access JWT has expired
        run(listener, cursor)
        assert len(srv.served(CREATE)) == 1
        assert [r.headers["authorization"] for r in srv.served(REFRESH)] == ["Bearer refresh-1"]
        assert srv.served(SEARCH)[-1].headers["authorization"] != first_token


def test_a_rejected_access_token_is_refreshed_once_and_retried():
    with LocalServer() as srv:
        fake = FakeAppView([post(1, 30)])
        fake.install(srv)
        listener = logged_in(srv.url)
        run(listener, None)
        fake.valid.clear()  # the server revoked every access token
        pages, _ = run(listener, None)
        assert [m.external_id for p in pages for m in p.mentions] == [post(1, 30)["uri"]]
        assert len(srv.served(REFRESH)) == 1 and len(srv.served(CREATE)) == 1


def test_bad_app_password_needs_credentials():
    with LocalServer() as srv:
        FakeAppView().install(srv)
        listener = make(
            srv.url,
            {"BSKY_ID": "acme.bsky.social", "BSKY_PW": "wrong"},
            identifier_env="BSKY_ID",
            password_env="BSKY_PW",
        )
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "needs_credentials"
        assert "app password" in err.value.message
        assert not srv.served(SEARCH)


# -- searching and paging ---------------------------------------------------------
def test_search_params_paging_followers_and_watermark():
    with LocalServer() as srv:
        posts = [post(n, minutes_ago=200 - n, author=n % 30) for n in range(150)]
        fake = FakeAppView(posts)
        fake.install(srv)
        listener = logged_in(srv.url, limit=50)
        pages, cursor = run(listener, None)
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(p["uri"] for p in posts)  # all 150, none twice
        searches = srv.served(SEARCH)
        # the last page was full without a cursor: one `until` page confirms the end
        assert [r.arg("cursor") for r in searches] == [None, "50", "100", None]
        assert searches[-1].arg("until") == "2026-11-25T09:40:00.001Z"  # oldest + 1 ms
        first = searches[0]
        assert first.arg("q") == "acme" and first.arg("sort") == "latest"
        assert first.arg("limit") == "50"
        assert first.arg("since") == "2026-11-18T13:00:00.000Z"  # backfill 7 days
        assert cursor == closed(posts[-1]["indexedAt"])
        # every page carries the gap it leaves: a failure after it resumes below it
        assert [p.cursor["terms"]["acme"].get("gap_until") for p in pages[:3]] == [
            "2026-11-25T11:20:00.001Z",
            "2026-11-25T10:30:00.001Z",
            "2026-11-25T09:40:00.001Z",
        ]
        assert not pages[-1].more
        # 30 distinct authors -> two getProfiles calls (25 + 5); cached afterwards
        calls = srv.served(PROFILES)
        assert sorted(len(r.query["actors"]) for r in calls) == [5, 25]
        by_author = {m.author: m.author_followers for p in pages for m in p.mentions}
        assert by_author["user29.bsky.social"] == 1000 + len("did:plc:author29")
        # next poll asks since the watermark minus five minutes and stores only what is new
        fake.posts.append(post(999, minutes_ago=1))
        pages, cursor2 = run(listener, cursor)
        assert srv.served(SEARCH)[-1].arg("since") == "2026-11-25T12:04:00.000Z"
        new = [m.external_id for p in pages for m in p.mentions]
        assert post(999, 1)["uri"] in new and len(new) == 7  # the overlap refetches six
        assert cursor2 == closed(post(999, 1)["indexedAt"])
        assert len(srv.served(PROFILES)) == 3  # only the one new author was looked up


def test_an_old_cursor_cut_short_keeps_its_gap_and_the_next_walk_continues_it():
    with LocalServer() as srv:
        posts = [post(n, minutes_ago=100 - n) for n in range(60)]
        FakeAppView(posts).install(srv)
        listener = logged_in(srv.url, limit=10, max_pages=2)
        old = {"since": "2026-11-25T10:00:00.000Z"}  # the shape saved before gaps
        pages, cursor = run(listener, old)
        assert len([m for p in pages for m in p.mentions]) == 20
        st = cursor["terms"]["acme"]
        # 20 of 60 seen: the watermark stays, the gap below the oldest read is remembered
        assert st == {
            "since": "2026-11-25T10:00:00.000Z",
            "floor": "2026-11-25T09:55:00.000Z",
            "gap_until": post(40, 60)["indexedAt"].replace(".000Z", ".001Z"),
            "newest": posts[-1]["indexedAt"],
        }
        assert pages[-1].done and pages[-1].more
        pages, cursor = run(listener, cursor)
        first = srv.served(SEARCH)[2]
        assert (first.arg("since"), first.arg("until")) == (st["floor"], st["gap_until"])
        got = [m.external_id for p in pages for m in p.mentions]
        # the gap's top millisecond is read again (stored already), then 19 older ones
        assert got == [p["uri"] for p in reversed(posts[21:41])]
        assert cursor["terms"]["acme"]["gap_until"] < st["gap_until"] and pages[-1].more
        pages, cursor = run(listener, cursor)
        assert pages[-1].more
        pages, cursor = run(listener, cursor)
        got = [m.external_id for p in pages for m in p.mentions]
        assert got == [p["uri"] for p in reversed(posts[:3])]  # down to the bound: closed
        assert cursor == closed(posts[-1]["indexedAt"]) and not pages[-1].more


def test_without_credentials_uses_the_public_host_and_403_needs_credentials():
    with LocalServer() as srv:
        srv.route(SEARCH, Reply(403, "Request forbidden by administrative rules"))
        listener = make(srv.url)
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "needs_credentials"
        assert "identifier_env" in err.value.message
        assert "authorization" not in srv.served(SEARCH)[0].headers
        assert not srv.served(CREATE)


def test_without_credentials_pages_back_with_until_instead_of_a_cursor():
    with LocalServer() as srv:
        posts = [post(n, 50 - n) for n in range(40)]
        FakeAppView(posts).install(srv)
        listener = make(srv.url, limit=25)
        pages, cursor = run(listener, None)
        searches = srv.served(SEARCH)
        assert [r.arg("cursor") for r in searches] == [None, None]  # the public host refuses them
        assert searches[0].arg("until") is None
        assert searches[1].arg("until") == post(15, 35)["indexedAt"].replace(".000Z", ".001Z")
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(p["uri"] for p in posts)  # all 40, not the newest 25
        assert cursor == closed(post(39, 11)["indexedAt"])


def test_a_full_page_without_a_cursor_pages_back_with_until():
    with LocalServer() as srv:
        posts = [post(n, 50 - n) for n in range(40)]
        fake = FakeAppView(posts)
        fake.send_cursor = False
        fake.install(srv)
        pages, cursor = run(make(srv.url, limit=25), None)
        assert [r.arg("until") is None for r in srv.served(SEARCH)] == [True, False]
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(p["uri"] for p in posts)
        assert cursor == closed(post(39, 11)["indexedAt"])


def test_a_cursor_that_stops_scrolling_early_is_followed_by_until_pages():
    with LocalServer() as srv:
        posts = [post(n, 100 - n) for n in range(60)]
        fake = FakeAppView(posts)
        fake.cursor_depth = 20  # the third cursor page comes back empty
        fake.install(srv)
        pages, cursor = run(logged_in(srv.url, limit=10), None)
        searches = srv.served(SEARCH)
        assert [r.arg("cursor") for r in searches[:3]] == [None, "10", "20"]
        assert searches[3].arg("until") and searches[3].arg("cursor") is None
        # a cursor that came from an `until` query is followed with that same `until`
        assert searches[4].arg("cursor") == "10"
        assert searches[4].arg("until") == searches[3].arg("until")
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(p["uri"] for p in posts)  # all 60, none twice
        assert cursor == closed(post(59, 41)["indexedAt"])


def test_a_public_host_that_refuses_until_too_keeps_what_it_served():
    with LocalServer() as srv:
        fake = FakeAppView([post(n, 50 - n) for n in range(40)])
        fake.refuse_until = True
        fake.install(srv)
        pages, cursor = run(make(srv.url, limit=25), None)
        assert len(srv.served(SEARCH)) == 2
        assert len([m for p in pages for m in p.mentions]) == 25
        assert cursor == closed(post(39, 11)["indexedAt"])


def test_more_posts_in_one_millisecond_than_a_page_without_a_cursor_steps_below_it():
    with LocalServer() as srv:
        same = [post(n, 30) for n in range(30)]  # 30 posts, one sortAt, pages of 10
        older = [post(n, n - 69) for n in range(100, 105)]  # 31 to 35 minutes ago
        FakeAppView(same + older).install(srv)
        old = {"since": "2026-11-25T12:00:00.000Z"}
        pages, cursor = run(make(srv.url, limit=10), old)  # the public host: no cursors
        untils = [r.arg("until") for r in srv.served(SEARCH)]
        ms = same[0]["indexedAt"]
        # the millisecond asked once more (10 again, nothing new), then the walk steps below
        assert untils == [None, ms.replace(".000Z", ".001Z"), ms]
        got = [m.external_id for p in pages for m in p.mentions]
        assert len(got) == len(set(got)) == 15  # the millisecond's first 10 and all below it
        assert {p["uri"] for p in older} <= set(got)
        assert cursor == closed(ms)  # the walk ended: it does not ask for that millisecond forever
        assert not pages[-1].more


def test_a_millisecond_with_more_posts_than_a_walk_pages_through_is_stepped_below():
    with LocalServer() as srv:
        same = [post(n, 30) for n in range(30)]  # 30 in one millisecond; a walk reads 20
        older = [post(n, n - 69) for n in range(100, 105)]  # 31 to 35 minutes ago
        FakeAppView(same + older).install(srv)
        listener = logged_in(srv.url, limit=10, max_pages=2)
        ms = same[0]["indexedAt"]
        cursor = {"since": "2026-11-25T12:00:00.000Z"}
        got = []
        for _ in range(3):
            pages, cursor = run(listener, cursor)
            got += [m.external_id for p in pages for m in p.mentions]
        untils = [r.arg("until") for r in srv.served(SEARCH)]
        # walk 1 pages the millisecond by cursor; walk 2 cannot get below it either, so it
        # leaves the gap under it; walk 3 reads what is below and closes the step
        assert untils[2:4] == [ms.replace(".000Z", ".001Z")] * 2
        assert untils[4] == ms
        assert {p["uri"] for p in older} <= set(got)
        assert len(set(got) & {p["uri"] for p in same}) == 20  # the other 10 are not fetched
        assert cursor == closed(ms) and not pages[-1].more


def test_each_term_keeps_its_own_step():
    with LocalServer() as srv:
        busy = [post(n, 100 - n, text="acme is busy") for n in range(35)]
        quiet = [post(n, 50 - n / 10, text="globex is quiet") for n in range(100, 103)]
        FakeAppView(busy + quiet).install(srv)
        listener = logged_in(srv.url, limit=10, max_pages=2)
        query = Query("Acme", "Acme", ("acme", "globex"))
        old = {"since": "2026-11-25T10:00:00.000Z"}
        pages, cursor = run(listener, old, query)
        acme, globex = cursor["terms"]["acme"], cursor["terms"]["globex"]
        assert is_open(acme) and acme["since"] == old["since"]
        assert globex == {"since": quiet[-1]["indexedAt"]}  # caught up, not held back by acme
        assert pages[-1].more
        pages, cursor = run(listener, cursor, query)
        asked = srv.served(SEARCH)[-3:]
        assert [r.arg("q") for r in asked] == ["acme", "acme", "globex"]
        assert asked[0].arg("until") == acme["gap_until"]
        assert asked[2].arg("since") == "2026-11-25T12:15:12.000Z"  # its own watermark - 5 min
        assert cursor == {
            "terms": {
                "acme": {"since": busy[-1]["indexedAt"]},
                "globex": {"since": quiet[-1]["indexedAt"]},
            }
        }
        assert not pages[-1].more


def late(n: int, created_minutes_ago: float, indexed_minutes_ago: float) -> dict:
    p = post(n, indexed_minutes_ago)
    at = NOW - timedelta(minutes=created_minutes_ago)
    p["record"]["createdAt"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return p


def test_the_watermark_is_sort_at_so_posts_indexed_late_are_not_skipped():
    # The AppView filters `since` on sortAt = min(createdAt, indexedAt). A watermark on
    # indexedAt runs ahead of that: a post written before it but indexed after the poll
    # would fall below `since - overlap` and never be returned.
    with LocalServer() as srv:
        fake = FakeAppView([late(1, created_minutes_ago=20, indexed_minutes_ago=2)])
        fake.install(srv)
        listener = logged_in(srv.url)
        _, cursor = run(listener, {"since": "2026-11-25T12:00:00.000Z"})
        assert cursor == closed("2026-11-25T12:40:00.000Z")  # its createdAt, not indexedAt
        fake.posts.append(late(2, created_minutes_ago=15, indexed_minutes_ago=-1))
        pages, _ = run(listener, cursor)
        assert srv.served(SEARCH)[-1].arg("since") == "2026-11-25T12:35:00.000Z"
        got = [m.external_id for p in pages for m in p.mentions]
        assert late(2, 15, -1)["uri"] in got


# -- end to end through the poller ----------------------------------------------
def settings_for(url, secrets=None, **options):
    src = {"platform": "bluesky", "base_url": url, "public_url": url, **options}
    return settings_from_dict({**SAMPLE_CONFIG, "sources": [src]}, secrets=secrets or {})


def test_listen_once_with_an_app_password_fills_the_store(sqlite_store):
    with LocalServer() as srv:
        fake = FakeAppView([post(n, minutes_ago=300 - n) for n in range(120)])
        fake.install(srv)
        settings = settings_for(
            srv.url, SECRETS, identifier_env="BSKY_ID", password_env="BSKY_PW", limit=50
        )
        srv.fault(SEARCH, "502")
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store) == sorted(p["uri"] for p in fake.posts)
        assert len(srv.served(CREATE)) == 1  # the retry after the 502 reused the session
        fake.posts += [post(n, minutes_ago=1) for n in range(500, 510)]
        listen_once(settings, sqlite_store, now=NOW)  # a new process: logs in again, once
        assert stored(sqlite_store) == sorted(p["uri"] for p in fake.posts)
        assert len(srv.served(CREATE)) == 2


def test_health_says_needs_credentials_when_the_public_host_refuses(sqlite_store):
    from earful.poller import status_rows

    with LocalServer() as srv:
        srv.route(SEARCH, Reply(403, {"error": "Forbidden"}))
        settings = settings_for(srv.url)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "FAILED" in lines[0] and "needs credentials" in lines[0]
        row = status_rows(settings, sqlite_store, NOW)[0]
        assert row["status"] == "needs credentials"
        assert row["error_kind"] == "needs_credentials"


def test_parse_an_unverified_handle_is_attributed_to_the_did_not_one_shared_placeholder():
    # The AppView shows every account whose handle fails verification as `handle.invalid`:
    # used as the author, strangers would merge into one author in every rollup.
    mentions, skipped = parse(load("searchPosts_invalid_handle.json"))
    assert skipped == 0
    assert [m.author for m in mentions] == [
        "did:plc:unverifiedaaaaaaaaaaaaaaa",
        "did:plc:unverifiedbbbbbbbbbbbbbbb",
        "carol.example.com",
    ]
    assert mentions[0].url == (
        "https://bsky.app/profile/did:plc:unverifiedaaaaaaaaaaaaaaa/post/3lbqz7inv001"
    )


# -- a busy brand: more posts per poll than one walk reads ------------------------
def term_state(store, settings):
    cursor = store.get_cursor(settings.sources[0].key, "custom")
    return (cursor or {}).get("terms", {}).get("acme", {})


def busy_settings(url, creds, **options):
    login = {"identifier_env": "BSKY_ID", "password_env": "BSKY_PW"} if creds else {}
    opts = {"query": "acme", "limit": 10, "max_pages": 3, **login, **options}
    return settings_for(url, SECRETS if creds else None, **opts)


def busy_history(burst: bool) -> list[dict]:
    """150 posts over two hours; logged in, also 25 in one millisecond (a cursor pages them)."""
    out = [post(n, minutes_ago=120 - n * 0.8) for n in range(150)]
    return out + ([post(n, minutes_ago=61.5) for n in range(200, 225)] if burst else [])


@pytest.mark.parametrize("creds", [True, False], ids=["app-password", "public-host"])
def test_a_busy_brand_catches_up_over_polls_with_none_lost_and_none_twice(any_store, creds):
    with LocalServer() as srv:
        fake = FakeAppView(busy_history(burst=creds))
        fake.install(srv)
        settings = busy_settings(srv.url, creds)
        new_total, before, marks, prev = 0, 0, [], {}
        for poll in range(60):
            now = NOW + timedelta(minutes=poll)
            if poll < 8:  # brand-new posts keep arriving above the walk
                fake.posts += [post(1000 + 3 * poll + k, -poll - k / 100) for k in range(3)]
            res = live_poll(settings, any_store, now)
            assert res.error is None, res.summary()
            new_total += res.new
            asked = srv.served(SEARCH)[before:]
            before += len(asked)
            assert 1 <= len(asked) <= 3  # max_pages per poll, never more
            st = term_state(any_store, settings)
            assert res.more == is_open(st)  # an unfinished step brings the next poll forward
            if prev.get("since"):  # the watermark never moves back
                assert _http.iso(st["since"]) >= _http.iso(prev["since"])
            if is_open(prev) and is_open(st) and st.get("since") == prev.get("since"):
                assert _http.iso(st["gap_until"]) <= _http.iso(prev["gap_until"])  # only closes
            if is_open(prev):  # a gap continues where the last walk stopped, not at the top
                assert asked[0].arg("until") == prev["gap_until"]
            marks.append(st.get("since"))
            prev = st
            if poll >= 8 and not is_open(st):
                break
        else:
            raise AssertionError("the walk never caught up")
        assert stored(any_store) == sorted(p["uri"] for p in fake.posts)
        assert new_total == len(fake.posts)  # each stored once
        assert len({m for m in marks if m}) >= 2  # several steps, each moving the watermark up


@pytest.mark.parametrize("creds", [True, False], ids=["app-password", "public-host"])
def test_once_catches_a_busy_brand_up_in_one_run(sqlite_store, creds):
    with LocalServer() as srv:
        fake = FakeAppView(busy_history(burst=creds))
        fake.install(srv)
        settings = busy_settings(srv.url, creds)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "FAILED" not in lines[0], lines
        assert stored(sqlite_store) == sorted(p["uri"] for p in fake.posts)
        assert term_state(sqlite_store, settings) == {"since": fake.posts[149]["indexedAt"]}
        assert len(srv.served(SEARCH)) > 3  # walked again while the listener had more


def test_a_poll_that_fails_mid_gap_resumes_where_it_left_off(sqlite_store):
    with LocalServer() as srv:
        fake = FakeAppView(busy_history(burst=False))
        fake.install(srv)
        settings = busy_settings(srv.url, True)
        live_poll(settings, sqlite_store, NOW)  # three pages of the backfill step
        gap = term_state(sqlite_store, settings)
        assert is_open(gap) and "since" not in gap
        fake.broken_after = 1  # the second search of the next poll fails, retries too
        res = live_poll(settings, sqlite_store, NOW)
        assert res.error is not None and not res.more
        resumed = srv.served(SEARCH)[3]
        assert (resumed.arg("since"), resumed.arg("until")) == (gap["floor"], gap["gap_until"])
        kept = term_state(sqlite_store, settings)
        assert kept["gap_until"] < gap["gap_until"]  # the good page counts
        assert kept["newest"] == gap["newest"] == fake.posts[149]["indexedAt"]
        fake.broken_after = None
        asked_before = len(srv.served(SEARCH))
        live_poll(settings, sqlite_store, NOW)
        assert srv.served(SEARCH)[asked_before].arg("until") == kept["gap_until"]
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store) == sorted(p["uri"] for p in fake.posts)
        assert term_state(sqlite_store, settings) == {"since": fake.posts[149]["indexedAt"]}


def test_term_states_read_old_and_new_cursors():
    old = {"since": "2026-11-25T10:00:00.000Z"}
    assert term_states(old, ["a", "b"]) == {"a": old, "b": old}
    gap = {"since": old["since"], "floor": "2026-11-25T09:55:00.000Z", "gap_until": "x"}
    new = {"terms": {"a": {**gap, "gap_until": "2026-11-25T11:00:00.001Z"}, "c": gap}}
    # a term added since backfills; a state that does not parse starts afresh
    assert term_states(new, ["a", "b", "c"]) == {"a": new["terms"]["a"], "b": {}, "c": {}}
    assert term_states(None, ["a"]) == {"a": {}}
    assert term_states({"terms": {"a": "garbage"}}, ["a"]) == {"a": {}}

"""Rechecking the reply queue: posts deleted at the source after we stored them are purged.

Every platform is played by a real HTTP server on 127.0.0.1 that serves the
fixtures in tests/fixtures/<platform>/ and records what it was asked.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, listener_for, live_poll, stored
from localserver import HTML_500, Reply

from earful import queue
from earful.config import settings_from_dict
from earful.models import Mention
from earful.recheck import RECHECK_KEY, last_round, recheck_source
from earful.schema import audit_log, mentions, queue_items
from earful.store import Store
from listeners.base import StoredPost

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
HTML_404 = Reply(
    404, "<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html"}
)


def load(platform, name):
    return json.loads((FIXTURES / platform / name).read_text())


def make(platform, base_url, secrets=None, **options):
    src = {"platform": platform, "base_url": base_url, **options}
    listener, settings = listener_for(src, now=NOW, secrets=secrets)
    return listener, settings.sources[0]


def seed(store, src, posts, *, at=NOW - timedelta(hours=2), needs_reply=True, source=None):
    """Store `posts` ((external_id, native_id, thread_id) each) from `src`, all needing a reply."""
    batch = [
        Mention(
            platform=src.platform,
            external_id=ext,
            url=f"https://example.test/{i}",
            author=f"author{ext}",
            text=f"acme broke my order {i}",
            created_at=at,
            native_id=native,
            thread_id=thread,
            source=source or src.key,
            matched="Acme",
            compound=-0.6,
            label="negative",
            intent="complaint",
            needs_reply=needs_reply,
            priority=0.6,
        )
        for i, (ext, native, thread) in enumerate(posts)
    ]
    store.save_page(source or src.key, "Acme", batch, None, now=at)


def ids_of(store):
    with store.read() as c:
        return dict(c.execute(sa.select(mentions.c.external_id, mentions.c.id)).all())


# -- Mastodon --------------------------------------------------------------------
def mastodon_server(srv, live, gone):
    """Statuses by local id: `live` {id: uri} answer the Status, `gone` ids Mastodon's 404."""
    status = load("mastodon", "status.json")

    def handler(req):
        sid = req.path.rsplit("/", 1)[-1]
        if sid in live:
            return {**status, "id": sid, "uri": live[sid]}
        if sid in gone:
            return Reply(404, load("mastodon", "status_not_found.json"))
        return Reply(500, {"error": "unexpected id"})

    for sid in (*live, *gone):
        srv.route(f"/api/v1/statuses/{sid}", handler)


def mastodon_posts(n, prefix="1135"):
    return [
        (f"https://far.example/users/u/statuses/{prefix}{i}", f"{prefix}{i:04d}", None)
        for i in range(n)
    ]


def test_mastodon_purges_deleted_statuses_and_keeps_live_ones(any_store, srv):
    listener, src = make("mastodon", srv.url, {"MT": "tok"}, hashtags=["acme"], token_env="MT")
    posts = mastodon_posts(4)
    seed(any_store, src, posts)
    ids = ids_of(any_store)
    mastodon_server(
        srv, {posts[0][1]: posts[0][0], posts[2][1]: posts[2][0]}, {posts[1][1], posts[3][1]}
    )

    line = recheck_source(any_store, listener, src, NOW, force=True)

    assert line == "recheck: 4 waiting posts asked about, 2 deleted at the source purged"
    assert stored(any_store) == sorted([posts[0][0], posts[2][0]])
    asked = srv.served()
    assert sorted(r.path for r in asked) == sorted(f"/api/v1/statuses/{p[1]}" for p in posts)
    assert {r.headers.get("authorization") for r in asked} == {"Bearer tok"}
    with any_store.read() as c:
        left = set(c.scalars(sa.select(queue_items.c.mention_id)))
        purged = set(
            c.scalars(sa.select(audit_log.c.mention_id).where(audit_log.c.action == "purge"))
        )
    assert left == {ids[posts[0][0]], ids[posts[2][0]]}
    assert purged == {ids[posts[1][0]], ids[posts[3][0]]}


@pytest.mark.parametrize(
    "answer",
    [
        Reply(500, {"error": "boom"}),
        Reply(503, HTML_500, {"Content-Type": "text/html"}),
        Reply(429, {"error": "Too many requests"}, {"X-RateLimit-Reset": "2026-11-25T13:05:00Z"}),
        HTML_404,  # a proxy's 404, not Mastodon's
        Reply(404, {"error": "Not Found"}),  # JSON, but not Mastodon's record-not-found
        Reply(200, b'{"id": "1", "uri": "https://far', {"Content-Type": "application/json"}),
        Reply(401, {"error": "This API requires an authenticated user"}),
        "moved",  # 200 about another status (base_url pointing at another instance)
        "reset",
    ],
    ids=["500", "503-html", "429", "html-404", "json-404", "truncated", "401", "moved", "reset"],
)
def test_mastodon_ambiguous_answers_purge_nothing(store, srv, answer):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    posts = mastodon_posts(3)
    seed(store, src, posts)
    mastodon_server(srv, {}, {posts[0][1], posts[1][1]})  # two are really gone...
    if answer == "moved":
        srv.script(f"/api/v1/statuses/{posts[2][1]}", {"id": posts[2][1], "uri": "https://x/1"})
    elif answer == "reset":
        srv.fault(f"/api/v1/statuses/{posts[2][1]}", "reset")
    else:  # ...but the third answer is ambiguous: the whole round purges nothing
        srv.script(f"/api/v1/statuses/{posts[2][1]}", answer)

    line = recheck_source(store, listener, src, NOW, force=True)

    assert line is not None and "nothing purged" in line
    assert stored(store) == sorted(p[0] for p in posts)
    assert last_round(store, src.key)["after"] == 0  # the same posts come first next time


def test_circuit_breaker_purges_nothing_when_most_posts_seem_gone(store, srv, caplog):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    posts = mastodon_posts(12)
    seed(store, src, posts)
    # 7 of 12 answer "Record not found": more than half, so something is wrong on our side
    mastodon_server(srv, {p[1]: p[0] for p in posts[7:]}, {p[1] for p in posts[:7]})

    with caplog.at_level(logging.WARNING, logger="earful.recheck"):
        line = recheck_source(store, listener, src, NOW, force=True)

    assert line is not None and "nothing purged" in line and "7 of 12" in line
    assert len(stored(store)) == 12
    assert any("7 of 12" in r.getMessage() for r in caplog.records)


def test_circuit_breaker_lets_half_through_and_ignores_small_rounds(store, srv):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    posts = mastodon_posts(10)
    seed(store, src, posts)
    mastodon_server(srv, {p[1]: p[0] for p in posts[5:]}, {p[1] for p in posts[:5]})
    assert "5 deleted" in recheck_source(store, listener, src, NOW, force=True)
    assert stored(store) == sorted(p[0] for p in posts[5:])

    listener, src = make("mastodon", srv.url, hashtags=["acme"], name="small")
    few = mastodon_posts(3, prefix="2135")
    seed(store, src, few)
    mastodon_server(srv, {}, {p[1] for p in few})  # under 10 asked: all gone is believable
    assert "3 deleted" in recheck_source(store, listener, src, NOW, force=True)


# -- which posts, how many, how often -------------------------------------------------
def test_only_waiting_recent_items_of_this_source_are_asked(store, srv):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    posts = mastodon_posts(6)
    seed(store, src, posts)
    seed(store, src, mastodon_posts(1, "3135"), at=NOW - timedelta(days=15))  # too old
    seed(store, src, mastodon_posts(1, "4135"), needs_reply=False)  # never queued
    seed(store, src, mastodon_posts(1, "5135"), source="another")  # another instance's id
    ids = ids_of(store)
    statuses = ["open", "pending", "snoozed", "resolved", "dismissed"]
    for (ext, _, _), status in zip(posts[1:], statuses, strict=True):
        if status != "open":
            until = NOW + timedelta(hours=1) if status == "snoozed" else None
            queue.set_status(
                store,
                ids[ext],
                status,
                actor="sam",
                expected_version=1,
                snoozed_until=until,
                now=NOW - timedelta(hours=1),
            )
    srv.route("*", Reply(404, load("mastodon", "status_not_found.json")))

    line = recheck_source(store, listener, src, NOW, force=True)

    waiting = [posts[0], posts[1], posts[2], posts[3]]  # open x2, pending, snoozed
    assert sorted(r.path.rsplit("/", 1)[-1] for r in srv.served()) == sorted(p[1] for p in waiting)
    assert line.endswith("4 deleted at the source purged")
    assert not {p[0] for p in waiting} & set(stored(store))


def test_a_round_asks_at_most_limit_posts_and_the_next_goes_on(store, srv):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    posts = mastodon_posts(7)
    seed(store, src, posts)
    mastodon_server(srv, {p[1]: p[0] for p in posts}, set())
    rounds = []
    for n in range(3):
        srv.requests.clear()
        recheck_source(store, listener, src, NOW + timedelta(hours=n), limit=3)
        rounds.append([r.path.rsplit("/", 1)[-1] for r in srv.served()])
    natives = [p[1] for p in posts]
    assert rounds == [natives[0:3], natives[3:6], [natives[6], natives[0], natives[1]]]


def test_rounds_are_due_every_recheck_every_and_shared_by_workers(sqlite_url, srv):
    one, two = Store(sqlite_url), Store(sqlite_url)
    one.upgrade()
    listener, src = make("mastodon", srv.url, hashtags=["acme"], recheck_every="20m")
    posts = mastodon_posts(2)
    seed(one, src, posts)
    mastodon_server(srv, {p[1]: p[0] for p in posts}, set())

    assert recheck_source(one, listener, src, NOW) is not None
    assert len(srv.served()) == 2
    assert recheck_source(two, listener, src, NOW + timedelta(minutes=19)) is None
    assert len(srv.served()) == 2  # not due: nothing asked
    assert recheck_source(two, listener, src, NOW + timedelta(minutes=20)) is not None
    assert len(srv.served()) == 4
    with one.read() as c:
        state = c.execute(
            sa.text("SELECT cursor FROM cursors WHERE source = :s AND query_key = :k"),
            {"s": src.key, "k": RECHECK_KEY},
        ).scalar()
    assert json.loads(state)["at"] == (NOW + timedelta(minutes=20)).isoformat()
    one.engine.dispose()
    two.engine.dispose()


def test_a_failed_round_still_waits_until_due(store, srv):
    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    seed(store, src, mastodon_posts(1))
    srv.route("*", Reply(502, {"error": "bad gateway"}))
    assert "nothing purged" in recheck_source(store, listener, src, NOW)
    assert recheck_source(store, listener, src, NOW + timedelta(minutes=14)) is None
    assert recheck_source(store, listener, src, NOW + timedelta(minutes=15)) is not None


# -- Bluesky -----------------------------------------------------------------------
def bluesky_posts(n):
    return [(f"at://did:plc:abc{i:03d}/app.bsky.feed.post/3k{i:03d}", None, None) for i in range(n)]


def bluesky_server(srv, live):
    template = load("bluesky", "getPosts.json")["posts"][0]

    def handler(req):
        return {"posts": [{**template, "uri": u} for u in req.query["uris"] if u in live]}

    srv.route("/xrpc/app.bsky.feed.getPosts", handler)


def test_bluesky_batches_uris_and_purges_the_missing(store, srv):
    listener, src = make("bluesky", srv.url, public_url=srv.url)
    posts = bluesky_posts(27)
    seed(store, src, posts)
    gone = {posts[3][0], posts[26][0]}
    bluesky_server(srv, {p[0] for p in posts} - gone)

    line = recheck_source(store, listener, src, NOW, force=True)

    assert line.endswith("2 deleted at the source purged")
    assert stored(store, as_set=True) == {p[0] for p in posts} - gone
    calls = srv.served("/xrpc/app.bsky.feed.getPosts")
    assert [len(r.query["uris"]) for r in calls] == [25, 2]
    assert sum((r.query["uris"] for r in calls), []) == [p[0] for p in posts]


@pytest.mark.parametrize(
    "answer",
    [
        {"feed": []},  # not a getPosts answer
        {"posts": [{"cid": "x"}]},  # a view without a uri
        {"posts": [{"uri": "at://did:plc:other/app.bsky.feed.post/zzz"}]},  # not asked
        Reply(500, {"error": "InternalServerError"}),
        HTML_404,
    ],
    ids=["shape", "no-uri", "not-asked", "500", "html-404"],
)
def test_bluesky_ambiguous_answers_purge_nothing(store, srv, answer):
    listener, src = make("bluesky", srv.url, public_url=srv.url)
    posts = bluesky_posts(3)
    seed(store, src, posts)
    srv.route("/xrpc/app.bsky.feed.getPosts", answer)
    assert "nothing purged" in recheck_source(store, listener, src, NOW, force=True)
    assert len(stored(store)) == 3


# -- Reddit ------------------------------------------------------------------------
REDDIT_SECRETS = {"RID": "app-id", "RSECRET": "app-secret"}


def reddit_setup(srv, listing):
    srv.route("/api/v1/access_token", {"access_token": "tok-1", "expires_in": 3600})
    srv.route("/api/info", listing)
    return make(
        "reddit",
        srv.url,
        REDDIT_SECRETS,
        client_id_env="RID",
        client_secret_env="RSECRET",
        oauth_url=srv.url,
        username="acme_bot",
    )


def test_reddit_purges_deleted_removed_and_missing_things(store, srv):
    info = load("reddit", "info.json")
    listener, src = reddit_setup(srv, info)
    names = [c["data"]["name"] for c in info["data"]["children"]]  # live, deleted, removed
    posts = [(n, n, n if n.startswith("t3_") else "t3_3x4kt2") for n in names]
    posts.append(("t3_zzzzzz", "t3_zzzzzz", "t3_zzzzzz"))  # no longer listed at all
    seed(store, src, posts)

    line = recheck_source(store, listener, src, NOW, force=True)

    assert line.endswith("3 deleted at the source purged")
    assert stored(store) == [names[0]]
    (req,) = srv.served("/api/info")
    assert req.arg("id").split(",") == [p[0] for p in posts]
    assert req.headers["authorization"] == "bearer tok-1"
    assert "acme_bot" in req.headers["user-agent"]


@pytest.mark.parametrize(
    "answer",
    [
        {"kind": "Listing"},
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"name": "t3_other"}}]}},
        Reply(403, "<html><h1>whoa there, pardner!</h1></html>", {"Content-Type": "text/html"}),
    ],
    ids=["no-children", "not-asked", "html-403"],
)
def test_reddit_ambiguous_answers_purge_nothing(store, srv, answer):
    listener, src = reddit_setup(srv, answer)
    seed(store, src, [("t3_aaaaaa", "t3_aaaaaa", "t3_aaaaaa")])
    assert "nothing purged" in recheck_source(store, listener, src, NOW, force=True)
    assert stored(store) == ["t3_aaaaaa"]


def test_reddit_without_oauth_and_feeds_do_not_recheck(store, srv):
    for platform, options in (("reddit", {}), ("hackernews", {}), ("rss", {"url": srv.url})):
        listener, src = make(platform, srv.url, **options)
        seed(store, src, [(f"{platform}-1", "1", None)])
        assert not listener.rechecks()
        assert recheck_source(store, listener, src, NOW, force=True) is None
        assert listener.gone([StoredPost(f"{platform}-1", "1")]) == ()
    assert srv.served() == []


# -- X -----------------------------------------------------------------------------
def test_x_purges_not_found_and_protected_posts(store, srv):
    lookup = load("x", "tweets_lookup.json")
    listener, src = make("x", srv.url, {"XT": "bearer-x"}, token_env="XT")
    live = lookup["data"][0]["id"]
    dead = [e["resource_id"] for e in lookup["errors"]]
    # external_id is the first edit's id; the lookup goes by native id
    seed(store, src, [(f"first-{t}", t, None) for t in (live, *dead)])
    srv.route("/2/tweets", lookup)

    line = recheck_source(store, listener, src, NOW, force=True)

    assert line.endswith("2 deleted at the source purged")
    assert stored(store) == [f"first-{live}"]
    (req,) = srv.served("/2/tweets")
    assert req.arg("ids").split(",") == [live, *dead]
    assert req.headers["authorization"] == "Bearer bearer-x"


@pytest.mark.parametrize("case", ["other-error", "unanswered", "no-token", "429"])
def test_x_ambiguous_answers_purge_nothing(store, srv, case):
    lookup = load("x", "tweets_lookup.json")
    listener, src = make("x", srv.url, {"XT": "bearer-x"}, token_env="XT")
    ids = [lookup["data"][0]["id"], *(e["resource_id"] for e in lookup["errors"])]
    seed(store, src, [(f"first-{t}", t, None) for t in ids])
    answer = copy.deepcopy(lookup)
    if case == "other-error":
        answer["errors"][1]["type"] = "https://api.twitter.com/2/problems/invalid-request"
    elif case == "unanswered":
        answer["data"] = []
    elif case == "429":
        answer = Reply(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]})
    srv.route("/2/tweets", answer)
    if case == "no-token":
        listener, src = make("x", srv.url)
        assert recheck_source(store, listener, src, NOW, force=True) is None
    else:
        assert "nothing purged" in recheck_source(store, listener, src, NOW, force=True)
    assert len(stored(store)) == 3


# -- Lemmy -------------------------------------------------------------------------
def lemmy_server(srv, version, items):
    """`items`: (kind, id) -> what /api/<version>/<kind>?id= answers."""
    site = "site_v1.json" if version == "v4" else "site_v3.json"
    srv.route("/api/v3/site", load("lemmy", site))

    def handler(req):
        kind = req.path.rsplit("/", 1)[-1]
        return items.get((kind, req.arg("id")), Reply(500, {"error": "unexpected"}))

    srv.route(f"/api/{version}/post", handler)
    srv.route(f"/api/{version}/comment", handler)


def lemmy_item(name, kind, ap_id, **flags):
    body = load("lemmy", name)
    view = body[f"{kind}_view"]
    view[kind].update(ap_id=ap_id, **flags)
    return body


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_lemmy_purges_flagged_and_vanished_items(store, srv, version):
    listener, src = make("lemmy", srv.url)
    base = "https://lemmy.example"
    posts = [
        (f"{base}/post/1", "1", f"{base}/post/1"),  # live post
        (f"{base}/post/2", "2", f"{base}/post/2"),  # deleted by its author
        (f"{base}/post/3", "3", f"{base}/post/3"),  # no longer found
        (f"{base}/comment/4", "4", f"{base}/post/1"),  # live comment
        (f"{base}/comment/5", "5", f"{base}/post/1"),  # removed by a moderator
    ]
    seed(store, src, posts)
    lemmy_server(
        srv,
        version,
        {
            ("post", "1"): lemmy_item("post_v3.json", "post", posts[0][0]),
            ("post", "2"): lemmy_item("post_v3.json", "post", posts[1][0], deleted=True),
            ("post", "3"): Reply(404, load("lemmy", "couldnt_find_post.json")),
            ("comment", "4"): lemmy_item("comment_v3.json", "comment", posts[3][0]),
            ("comment", "5"): lemmy_item("comment_v3.json", "comment", posts[4][0], removed=True),
        },
    )

    line = recheck_source(store, listener, src, NOW, force=True)

    assert line.endswith("3 deleted at the source purged")
    assert stored(store) == sorted([posts[0][0], posts[3][0]])
    asked = [(r.path, r.arg("id")) for r in srv.served() if not r.path.endswith("/site")]
    assert sorted(asked) == sorted(
        [(f"/api/{version}/post", i) for i in "123"]
        + [(f"/api/{version}/comment", i) for i in "45"]
    )


@pytest.mark.parametrize(
    "answer",
    [HTML_404, Reply(400, {"error": "rate_limit_error"}), Reply(404, b""), "other-ap-id"],
    ids=["html-404", "other-error", "empty-404", "other-ap-id"],
)
def test_lemmy_ambiguous_answers_purge_nothing(store, srv, answer):
    listener, src = make("lemmy", srv.url)
    post = ("https://lemmy.example/post/1", "1", "https://lemmy.example/post/1")
    seed(store, src, [post])
    if answer == "other-ap-id":
        answer = lemmy_item(
            "post_v3.json", "post", "https://elsewhere.example/post/9", deleted=True
        )
    lemmy_server(srv, "v3", {("post", "1"): answer})
    assert "nothing purged" in recheck_source(store, listener, src, NOW, force=True)
    assert stored(store) == [post[0]]


def test_after_base_url_changes_only_posts_read_from_the_new_instance_are_asked(store, srv):
    from localserver import LocalServer

    listener, src = make("mastodon", srv.url, hashtags=["acme"])
    old = mastodon_posts(2)
    seed(store, src, old)
    mastodon_server(srv, {p[1]: p[0] for p in old}, set())
    assert recheck_source(store, listener, src, NOW) is not None
    with LocalServer() as other:
        # the other instance knows none of the old ids: its 404s must not purge them
        other.route("*", Reply(404, load("mastodon", "status_not_found.json")))
        listener, src = make("mastodon", other.url, hashtags=["acme"])
        later = NOW + timedelta(hours=1)
        assert recheck_source(store, listener, src, later).startswith("recheck: 0 waiting")
        new = mastodon_posts(1, prefix="7135")
        seed(store, src, new, at=later + timedelta(minutes=5))
        line = recheck_source(store, listener, src, later + timedelta(hours=1))
        assert line.endswith("1 deleted at the source purged")
        assert [r.path.rsplit("/", 1)[-1] for r in other.served()] == [new[0][1]]
    assert stored(store) == sorted(p[0] for p in old)


# -- the worker ----------------------------------------------------------------------
def test_the_worker_rechecks_after_a_scheduled_poll_not_in_once_runs(store, srv):
    src = {"platform": "mastodon", "base_url": srv.url, "hashtags": ["acme"]}
    settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [src]})
    srv.route("/api/v1/timelines/tag/acme", [])
    srv.route("/api/v2/instance", load("mastodon", "instance_public.json"))
    posts = mastodon_posts(2)
    seed(store, settings.sources[0], posts)
    mastodon_server(srv, {posts[0][1]: posts[0][0]}, {posts[1][1]})

    listen_once(settings, store, now=NOW)
    assert not [r for r in srv.served() if "/statuses/" in r.path]
    assert len(stored(store)) == 2

    res = live_poll(settings, store, NOW)
    assert res.error is None
    assert len([r for r in srv.served() if "/statuses/" in r.path]) == 2
    assert stored(store) == [posts[0][0]]
    assert last_round(store, settings.sources[0].key)["at"] == NOW.isoformat()

"""At-most-once replies against a real local HTTP server: no case sends twice, none claims a send that did not happen."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from earful import queue, replies
from earful.config import settings_from_dict
from earful.models import Mention
from tests.localserver import LocalServer, Reply

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRETS = {
    "M_TOKEN": "mtok",
    "BSKY_ID": "acme.bsky.social",
    "BSKY_PW": "app-pw",
    "X_TOKEN": "xtok",
    "LEMMY_JWT": "ljwt",
    "R_ID": "rid",
    "R_SECRET": "rsecret",
    "R_USER": "acme_support",
    "R_PW": "rpw",
}


def make_settings(url: str, **extra):
    replies_cfg = {
        "mastodon": {"base_url": url, "token_env": "M_TOKEN"},
        "bluesky": {"base_url": url, "identifier_env": "BSKY_ID", "password_env": "BSKY_PW"},
        "x": {"base_url": url, "token_env": "X_TOKEN"},
        "lemmy": {"base_url": url, "token_env": "LEMMY_JWT"},
        "reddit": {
            "base_url": url,
            "auth_url": url,
            "client_id_env": "R_ID",
            "client_secret_env": "R_SECRET",
            "identifier_env": "R_USER",
            "password_env": "R_PW",
        },
    }
    replies_cfg.update(extra)
    return settings_from_dict(
        {
            "brand": {"name": "Acme", "terms": ["acme"], "handles": ["@acme", "acme.bsky.social"]},
            "replies": replies_cfg,
        },
        secrets=SECRETS,
    )


def save_mention(
    store, platform="mastodon", ext="https://other.example/users/bob/statuses/9", **kw
):
    base = dict(
        platform=platform,
        external_id=ext,
        url=kw.pop("url", "https://other.example/@bob/9"),
        author="bob@other.example",
        text="acme lost my order, help?",
        created_at=T0,
        native_id="9",
        thread_id=ext,
        matched="Acme",
        label="negative",
        compound=-0.6,
        intent="complaint",
        needs_reply=True,
        reason="test",
        priority=60.0,
    )
    base.update(kw)
    (mid,) = store.save_page("src", "q", [Mention(**base)], None, now=T0).inserted_ids
    return mid


@pytest.fixture
def server():
    with LocalServer() as srv:
        srv.route("/api/v2/search", {"statuses": [{"id": "111"}]})
        yield srv


@pytest.fixture
def client():
    with httpx.Client(timeout=httpx.Timeout(0.3)) as c:
        yield c


def posts(srv, path="/api/v1/statuses"):
    return [r for r in srv.served(path) if r.method == "POST"]


def ok_status(req):
    return {"id": "555", "url": "https://brand.example/@acme/555"}


# -- Mastodon: the three outcomes ---------------------------------------------
def test_success_is_sent_once_with_idempotency_key(any_store, server, client):
    server.route("/api/v1/statuses", ok_status)
    settings = make_settings(server.url)
    mid = save_mention(any_store)
    row = replies.send_reply(
        any_store, settings, mid, "Sorry about that!", actor="sam", client=client, now=T0
    )
    assert row["status"] == "sent" and row["platform_reply_id"] == "555"
    assert row["reply_url"] == "https://brand.example/@acme/555"
    (req,) = posts(server)
    form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
    assert form["in_reply_to_id"] == "111"
    assert form["status"] == "@bob@other.example Sorry about that!"  # the author gets notified
    assert (
        req.headers["idempotency-key"] == row["idempotency_key"]
        and len(row["idempotency_key"]) == 64
    )
    assert req.headers["authorization"] == "Bearer mtok"
    search = server.served("/api/v2/search")[0]
    assert (
        search.arg("resolve") == "true"
        and search.arg("q") == "https://other.example/users/bob/statuses/9"
    )
    item = queue.get_item(any_store, mid)
    assert item["status"] == "pending" and item["first_reply_at"] == T0
    with pytest.raises(replies.ReplyRefused, match="already sent"):
        replies.send_reply(
            any_store, settings, mid, "Sorry about that!", actor="alex", client=client
        )
    with pytest.raises(replies.ReplyRefused, match="already sent"):
        replies.send_reply(any_store, settings, mid, "Another text", actor="alex", client=client)
    assert len(posts(server)) == 1
    actions = [a["action"] for a in queue.audit_for(any_store, mid)]
    assert actions[-3:] == ["reply_intent", "reply_sent", "replied"]


def test_accepted_then_timeout_is_unknown_and_never_resent(any_store, server, client):
    server.route("/api/v1/statuses", lambda req: Reply(200, ok_status(req), delay=0.8))
    settings = make_settings(server.url)
    mid = save_mention(any_store)
    row = replies.send_reply(any_store, settings, mid, "On it", actor="sam", client=client, now=T0)
    assert row["status"] == "unknown" and "verify" in row["error"]
    assert row["platform_reply_id"] is None and row["reply_url"] is None
    assert len(posts(server)) == 1  # the server did receive it
    item = queue.get_item(any_store, mid)
    assert item["status"] == "open" and item["first_reply_at"] is None  # no claimed send
    for text in ("On it", "Something else"):
        with pytest.raises(replies.ReplyRefused, match="unknown"):
            replies.send_reply(any_store, settings, mid, text, actor="sam", client=client)
    assert len(posts(server)) == 1
    # a person checks the platform and confirms it was posted
    done = replies.verify_reply(
        any_store,
        row["id"],
        sent=True,
        actor="sam",
        url="https://brand.example/@acme/555",
        now=T0,
    )
    assert done["status"] == "sent"
    assert queue.get_item(any_store, mid)["status"] == "pending"
    with pytest.raises(replies.ReplyRefused):
        replies.verify_reply(any_store, row["id"], sent=False, actor="sam")


def test_refused_before_accepting_is_failed_and_may_be_tried_again(any_store, server, client):
    server.script("/api/v1/statuses", Reply(422, {"error": "Validation failed: Text too long"}))
    server.route("/api/v1/statuses", ok_status)
    settings = make_settings(server.url)
    mid = save_mention(any_store)
    row = replies.send_reply(any_store, settings, mid, "Hi", actor="sam", client=client, now=T0)
    assert row["status"] == "failed" and "Text too long" in row["error"]
    assert queue.get_item(any_store, mid)["first_reply_at"] is None
    again = replies.send_reply(any_store, settings, mid, "Hi", actor="sam", client=client, now=T0)
    assert again["status"] == "sent"
    keys = [r.headers["idempotency-key"] for r in posts(server)]
    assert len(keys) == 2 and keys[0] != keys[1] and keys[1] == again["idempotency_key"]
    assert [r["status"] for r in replies.replies_for(any_store, mid)] == ["failed", "sent"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("503", "unknown"), ("reset", "unknown"), ("cut", "unknown"), ("json401", "failed")],
)
def test_faults_on_the_post_are_classified(sqlite_store, server, client, fault, expected):
    server.fault("/api/v1/statuses", fault)
    server.route("/api/v1/statuses", ok_status)
    mid = save_mention(sqlite_store)
    row = replies.send_reply(
        sqlite_store, make_settings(server.url), mid, "Hi", actor="sam", client=client
    )
    assert row["status"] == expected
    assert len(posts(server)) == 1
    assert queue.get_item(sqlite_store, mid)["first_reply_at"] is None


def test_lookup_failure_posts_nothing(sqlite_store, server, client):
    server.fault("/api/v2/search", "503")
    server.route("/api/v1/statuses", ok_status)
    mid = save_mention(sqlite_store)
    row = replies.send_reply(
        sqlite_store, make_settings(server.url), mid, "Hi", actor="s", client=client
    )
    assert row["status"] == "failed" and posts(server) == []
    server.route("/api/v2/search", {"statuses": []})
    row = replies.send_reply(
        sqlite_store, make_settings(server.url), mid, "Hi", actor="s", client=client
    )
    assert (
        row["status"] == "failed" and "could not be found" in row["error"] and posts(server) == []
    )


def test_unreachable_server_is_failed(sqlite_store, client):
    srv = LocalServer().start()
    url = srv.url
    srv.stop()
    mid = save_mention(sqlite_store)
    row = replies.send_reply(sqlite_store, make_settings(url), mid, "Hi", actor="s", client=client)
    assert row["status"] == "failed"


def test_two_people_sending_at_once_post_once(any_store, server, client):
    server.route("/api/v1/statuses", lambda req: Reply(200, ok_status(req), delay=0.05))
    settings = make_settings(server.url)
    mid = save_mention(any_store)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def go(who: str) -> None:
        barrier.wait()
        try:
            with httpx.Client(timeout=2.0) as c:
                outcomes.append(
                    replies.send_reply(
                        any_store, settings, mid, f"hi from {who}", actor=who, client=c
                    )["status"]
                )
        except replies.ReplyRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=go, args=(w,)) for w in ("sam", "alex")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["refused", "sent"]
    assert len(posts(server)) == 1


# -- other platforms -------------------------------------------------------------
def test_bluesky_reply_has_root_and_parent_refs(sqlite_store, server, client):
    server.route(
        "/xrpc/com.atproto.server.createSession", {"accessJwt": "jwt1", "did": "did:plc:acme"}
    )
    server.route(
        "/xrpc/com.atproto.repo.createRecord",
        lambda req: {
            "uri": f"at://did:plc:acme/app.bsky.feed.post/{req.json()['rkey']}",
            "cid": "bafyX",
        },
    )
    root = {"uri": "at://did:plc:bob/app.bsky.feed.post/root1", "cid": "bafyRoot"}
    mid = save_mention(
        sqlite_store,
        platform="bluesky",
        ext="at://did:plc:bob/app.bsky.feed.post/p2",
        native_id="at://did:plc:bob/app.bsky.feed.post/p2|bafyP2",
        raw={"record": {"text": "x", "reply": {"root": root, "parent": root}}},
    )
    row = replies.send_reply(
        sqlite_store, make_settings(server.url), mid, "Hi", actor="s", client=client, now=T0
    )
    assert row["status"] == "sent"
    (req,) = server.served("/xrpc/com.atproto.repo.createRecord")
    body = req.json()
    assert req.headers["authorization"] == "Bearer jwt1" and body["repo"] == "did:plc:acme"
    assert body["record"]["reply"] == {
        "root": root,
        "parent": {"uri": "at://did:plc:bob/app.bsky.feed.post/p2", "cid": "bafyP2"},
    }
    assert body["record"]["createdAt"] == "2026-11-02T09:00:00.000Z"
    rkey = body["rkey"]
    assert len(rkey) == 13 and rkey[0] in "234567abcdefghij"
    assert row["reply_url"] == f"https://bsky.app/profile/did:plc:acme/post/{rkey}"
    assert replies.tid_for(row["idempotency_key"], T0) == rkey


def test_x_only_when_the_author_mentioned_the_brand(sqlite_store, server, client):
    server.route("/2/tweets", lambda req: Reply(201, {"data": {"id": "1900", "text": "ok"}}))
    settings = make_settings(server.url)
    plain = save_mention(
        sqlite_store, platform="x", ext="1", native_id="1", text="acme is down again"
    )
    ok, why = replies.can_send(settings, queue.get_item(sqlite_store, plain))
    assert not ok and why.startswith(replies.X_RULE)
    with pytest.raises(replies.ReplyRefused, match="only when the author mentioned you"):
        replies.send_reply(sqlite_store, settings, plain, "Hi", actor="s", client=client)
    assert server.served("/2/tweets") == []
    addressed = save_mention(
        sqlite_store, platform="x", ext="2", native_id="2", text="@Acme my order is lost"
    )
    row = replies.send_reply(sqlite_store, settings, addressed, "DM us", actor="s", client=client)
    assert row["status"] == "sent" and row["reply_url"] == "https://x.com/acme/status/1900"
    (req,) = server.served("/2/tweets")
    assert req.json() == {"text": "DM us", "reply": {"in_reply_to_tweet_id": "2"}}
    # not a mention: an email address is not "@acme"
    other = save_mention(
        sqlite_store, platform="x", ext="3", native_id="3", text="mail me@acme.com"
    )
    assert not replies.can_send(settings, queue.get_item(sqlite_store, other))[0]


def test_lemmy_resolves_and_comments(sqlite_store, server, client):
    server.route("/api/v3/resolve_object", {"comment": {"comment": {"id": 77, "post_id": 12}}})
    server.route(
        "/api/v3/comment",
        {"comment_view": {"comment": {"id": 78, "ap_id": "https://lemmy.brand/comment/78"}}},
    )
    mid = save_mention(sqlite_store, platform="lemmy", ext="https://lemmy.other/comment/5")
    row = replies.send_reply(
        sqlite_store, make_settings(server.url), mid, "Hi", actor="s", client=client
    )
    assert row["status"] == "sent" and row["reply_url"] == "https://lemmy.brand/comment/78"
    (req,) = server.served("/api/v3/comment")
    assert req.json() == {"content": "Hi", "post_id": 12, "parent_id": 77}
    assert server.served("/api/v3/resolve_object")[0].arg("q") == "https://lemmy.other/comment/5"


def test_reddit_comment_and_refusal_inside_200(sqlite_store, server, client):
    server.route("/api/v1/access_token", {"access_token": "rtok", "token_type": "bearer"})
    server.script(
        "/api/comment",
        {"json": {"errors": [["RATELIMIT", "you are doing that too much", "ratelimit"]]}},
    )
    server.route(
        "/api/comment",
        {
            "json": {
                "errors": [],
                "data": {
                    "things": [
                        {
                            "kind": "t1",
                            "data": {"name": "t1_abc", "permalink": "/r/x/comments/1/_/abc/"},
                        }
                    ]
                },
            }
        },
    )
    mid = save_mention(sqlite_store, platform="reddit", ext="t3_zz")
    s = make_settings(server.url)
    row = replies.send_reply(sqlite_store, s, mid, "Hi", actor="s", client=client)
    assert row["status"] == "failed" and "RATELIMIT" in row["error"]
    row = replies.send_reply(sqlite_store, s, mid, "Hi", actor="s", client=client)
    assert row["status"] == "sent" and row["platform_reply_id"] == "t1_abc"
    assert row["reply_url"] == "https://www.reddit.com/r/x/comments/1/_/abc/"
    token_req = server.served("/api/v1/access_token")[0]
    assert token_req.headers["authorization"].startswith("Basic ")
    assert server.served("/api/comment")[0].headers["authorization"] == "bearer rtok"


# -- manual replies and can_send -------------------------------------------------
def test_manual_platforms_and_missing_config(sqlite_store):
    settings = make_settings("http://127.0.0.1:9")
    hn = save_mention(
        sqlite_store, platform="hackernews", ext="42", url="https://news.ycombinator.com/item?id=42"
    )
    ok, why = replies.can_send(settings, queue.get_item(sqlite_store, hn))
    assert not ok and why.startswith("reply manually") and "item?id=42" in why
    rss = save_mention(sqlite_store, platform="rss", ext="e1", url="https://news.example/a")
    assert replies.can_send(settings, queue.get_item(sqlite_store, rss))[1].startswith(
        "reply manually"
    )
    bare = settings_from_dict({"brand": {"name": "Acme", "terms": ["acme"]}})
    m = save_mention(sqlite_store)
    ok, why = replies.can_send(bare, queue.get_item(sqlite_store, m))
    assert not ok and "[replies.mastodon]" in why
    no_secret = settings_from_dict(
        {
            "brand": {"name": "Acme", "terms": ["acme"]},
            "replies": {"mastodon": {"base_url": "http://x", "token_env": "NOPE"}},
        }
    )
    ok, why = replies.can_send(no_secret, queue.get_item(sqlite_store, m))
    assert not ok and "NOPE" in why and "mtok" not in why


def test_manual_reply_stops_the_clock_and_blocks_sending(sqlite_store, server, client):
    hn = save_mention(sqlite_store, platform="hackernews", ext="42")
    url = "https://news.ycombinator.com/item?id=43"
    row = replies.record_manual_reply(
        sqlite_store, hn, url, actor="sam", text="answered", now=T0 + timedelta(hours=1)
    )
    assert row["status"] == "manual" and row["reply_url"] == url
    again = replies.record_manual_reply(sqlite_store, hn, url, actor="sam")
    assert again["id"] == row["id"]
    item = queue.get_item(sqlite_store, hn, now=T0 + timedelta(days=2))
    assert item["status"] == "pending" and item["first_reply_at"] == T0 + timedelta(hours=1)
    assert item["sla_breached"] is False and item["sla_seconds_left"] == 3 * 3600.0
    server.route("/api/v1/statuses", ok_status)
    masto = save_mention(sqlite_store)
    replies.record_manual_reply(sqlite_store, masto, "https://brand.example/@acme/1", actor="sam")
    with pytest.raises(replies.ReplyRefused, match="already manual"):
        replies.send_reply(
            sqlite_store, make_settings(server.url), masto, "Hi", actor="s", client=client
        )
    assert posts(server) == []


def test_idempotency_key_normalises_whitespace():
    assert replies.idempotency_key(1, "Hi  there\n") == replies.idempotency_key(1, " Hi there")
    assert replies.idempotency_key(1, "Hi") != replies.idempotency_key(2, "Hi")
    assert replies.idempotency_key(1, "Hi", 0) != replies.idempotency_key(1, "Hi", 1)


def test_example_config_documents_valid_reply_sections():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "earful.toml").read_text()
    start = text.index("# [replies.mastodon]")
    block = "\n".join(
        line.removeprefix("# ").removeprefix("#") for line in text[start:].splitlines()
    )
    import tomllib

    raw = {
        "brand": {"name": "Acme", "terms": ["acme"], "handles": ["@acme"]},
        **tomllib.loads(block),
    }
    s = settings_from_dict(raw)
    assert set(s.replies.model_dump(exclude_none=True)) == {
        "mastodon",
        "bluesky",
        "x",
        "lemmy",
        "reddit",
    }


def test_a_post_purged_after_our_reply_and_stored_again_is_not_replied_twice(
    any_store, server, client
):
    from earful.purge import purge_mentions

    server.route("/api/v1/statuses", ok_status)
    settings = make_settings(server.url)
    ext = "https://other.example/users/bob/statuses/9"
    mid = save_mention(any_store, ext=ext)
    replies.send_reply(any_store, settings, mid, "Sorry!", actor="sam", client=client, now=T0)
    # a post we never answered, purged too: nothing to remember about it
    other = save_mention(any_store, ext=ext + "0", url="https://other.example/@bob/90")
    with any_store.write() as conn:
        purge = [ext, ext + "0"]
        assert purge_mentions(conn, "mastodon", purge, now=T0 + timedelta(hours=1)) == 2
    assert queue.get_item(any_store, mid) is None and queue.get_item(any_store, other) is None
    # The removal was reversed: the post is read and stored again (a new mention row).
    again = save_mention(any_store, ext=ext)
    assert queue.get_item(any_store, again)["status"] == "open"
    assert replies.replies_for(any_store, again) == []  # the old reply records are gone
    with pytest.raises(replies.ReplyRefused, match="replied to this post before it was deleted"):
        replies.send_reply(any_store, settings, again, "Sorry!", actor="alex", client=client)
    assert len(posts(server)) == 1
    back = save_mention(any_store, ext=ext + "0", url="https://other.example/@bob/90")
    row = replies.send_reply(any_store, settings, back, "Hi!", actor="alex", client=client)
    assert row["status"] == "sent" and len(posts(server)) == 2

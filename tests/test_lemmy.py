"""Lemmy: pure parse on recorded payloads, fetches against a local fake instance (v3 and v4)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, stored
from localserver import LocalServer, Reply

from earful.config import settings_from_dict
from listeners._http import make_client
from listeners.base import SourceError
from listeners.lemmy import parse

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def load(name: str):
    return json.loads((FIXTURES / "lemmy" / name).read_text())


# -- parse ----------------------------------------------------------------------
def test_parse_recorded_sample():
    ms, skipped = parse(load("search_v3.json"), "https://lemmy.example")
    assert skipped == 0
    post, comment = ms
    assert post.external_id == "https://lemmy.example/post/18273645"
    assert post.native_id == "18273645"
    assert post.author == "widget_fan@lemmy.example"
    assert post.text.startswith("Acme Rocket Skates keep losing Bluetooth")
    assert "Support ticket #4411" in post.text
    assert post.created_at == datetime(2026, 8, 20, 14, 2, 31, 771022, tzinfo=UTC)
    assert post.engagement == 17 + 4
    assert comment.external_id == "https://other.example/comment/4412907"
    assert comment.author == "grumpy_cat@other.example"  # host from actor_id, not the instance
    assert comment.thread_id == "https://lemmy.example/post/18273645"
    assert comment.in_reply_to == "https://lemmy.example/post/18273645"  # top-level comment


def test_parse_skips_malformed_drops_deleted_and_dedupes_by_ap_id():
    ms, skipped = parse(load("search_v3_malformed.json"), "https://lemmy.example")
    assert skipped == 2  # no published; no post at all
    assert sorted(m.external_id for m in ms) == [
        "https://lemmy.example/post/18273645",
        "https://other.example/comment/4412907",
    ]


def test_parse_v4_envelope_and_nested_reply():
    payload = load("search_v4.json")
    payload["comments"][0]["comment"]["path"] = "0.9918000.9918273"
    ms, _ = parse(payload, "https://lemmy.example")
    comment = [m for m in ms if "comment" in m.external_id][0]
    assert comment.in_reply_to == "https://lemmy.example/comment/9918000"


def test_parse_lemmy_1_combined_search_list():
    # Lemmy 1.0: one `search` list tagged by type_, `published_at`, counts inside the item,
    # `ap_id` instead of `actor_id` on the creator. Same mentions as the 0.19 shape.
    ms, skipped = parse(load("search_v4_combined.json"), "https://lemmy.example")
    want, _ = parse(load("search_v4.json"), "https://lemmy.example")
    assert skipped == 0 and len(ms) == 2  # the community result is not a mention
    keys = ("external_id", "created_at", "engagement", "author", "in_reply_to", "thread_id", "text")
    assert [[getattr(m, k) for k in keys] for m in ms] == [
        [getattr(m, k) for k in keys] for m in want
    ]
    assert ms[0].created_at == datetime(2026, 8, 20, 14, 2, 31, 771022, tzinfo=UTC)
    assert ms[0].engagement == 17 + 4 and ms[1].author == "grumpy_cat@other.example"
    # the same 1.0 items in separate posts/comments lists (the envelope the reference names)
    items = load("search_v4_combined.json")["search"]
    split = {k + "s": [v for v in items if v["type_"] == k] for k in ("post", "comment")}
    assert [m.created_at for m in parse(split, "https://lemmy.example")[0]] == [
        m.created_at for m in want
    ]


def test_parse_skips_an_item_with_an_infinite_score_not_the_page():
    payload = load("search_v3.json")
    payload["posts"][0]["counts"]["score"] = float("inf")  # json.loads accepts Infinity
    ms, skipped = parse(payload, "https://lemmy.example")
    assert skipped == 1 and [m.external_id for m in ms] == ["https://other.example/comment/4412907"]


def test_parse_rejects_non_object():
    with pytest.raises(SourceError):
        parse(["not", "an", "object"])


# -- a fake Lemmy instance -----------------------------------------------------------
def post_view(i: int, at: datetime, text: str, host: str = "lemmy.example") -> dict:
    v = copy.deepcopy(load("search_v3.json")["posts"][0])
    v["post"].update(
        id=i, ap_id=f"https://{host}/post/{i}", name=text, body="", published=at.isoformat()
    )
    return v


def comment_view(i: int, at: datetime, text: str) -> dict:
    v = copy.deepcopy(load("search_v3.json")["comments"][0])
    v["comment"].update(
        id=i, ap_id=f"https://other.example/comment/{i}", content=text, published=at.isoformat()
    )
    return v


class LemmyFake:
    def __init__(self, posts=(), comments=(), version="0.19.13", v3=True, v4=False):
        self.posts, self.comments = list(posts), list(comments)
        self.version, self.v3, self.v4 = version, v3, v4

    def _select(self, req, items, key):
        term = (req.arg("q") or req.arg("search_term") or "").lower()
        found = [v for v in items if term in json.dumps(v[key]).lower()]
        found.sort(key=lambda v: v[key]["published"], reverse=True)
        return found

    def install(self, srv: LocalServer) -> None:
        srv.route("/api/v3/site", lambda r: {"version": self.version} if self.v3 else Reply(404))
        srv.route("/api/v4/site", lambda r: {"version": self.version} if self.v4 else Reply(404))
        srv.route("/api/v3/search", self.v3_search)
        srv.route("/api/v4/search", self.v4_search)

    def v3_search(self, req):
        if not self.v3:
            return Reply(404, {"error": "not found"})
        limit, page = int(req.arg("limit")), int(req.arg("page"))
        out = {
            "type_": req.arg("type_"),
            "posts": [],
            "comments": [],
            "communities": [],
            "users": [],
        }
        if req.arg("type_") == "Posts":
            out["posts"] = self._select(req, self.posts, "post")[(page - 1) * limit : page * limit]
        else:
            out["comments"] = self._select(req, self.comments, "comment")[
                (page - 1) * limit : page * limit
            ]
        return out

    def v4_search(self, req):
        limit = int(req.arg("limit"))
        start = int((req.arg("page_cursor") or "P0")[1:])
        items = (
            self._select(req, self.posts, "post")
            if req.arg("type_") == "Posts"
            else self._select(req, self.comments, "comment")
        )
        chunk = items[start : start + limit]
        key = "posts" if req.arg("type_") == "Posts" else "comments"
        nxt = f"P{start + limit}" if start + limit < len(items) else None
        return {key: chunk, "next_page": nxt, "prev_page": None}


def run(srv, store, clock=NOW, **extra):
    settings = settings_from_dict(
        {**SAMPLE_CONFIG, "sources": [{"platform": "lemmy", "base_url": srv.url, **extra}]}
    )
    return listen_once(settings, store, now=clock, timeout=2)


def test_v3_search_params_and_backfill(srv, store):
    fake = LemmyFake(
        posts=[
            post_view(1, NOW - timedelta(hours=1), "Acme skates broke"),
            post_view(2, NOW - timedelta(days=3), "Globex is fine"),
            post_view(3, NOW - timedelta(days=10), "Acme ancient history"),
        ],
        comments=[comment_view(11, NOW - timedelta(minutes=5), "acme support is slow")],
    )
    fake.install(srv)
    lines = run(srv, store, limit=50)
    assert lines[0].startswith("lemmy: ok")
    # the 10-day-old post is on the page (one page), it is stored: the walk stops after it
    assert {
        "https://lemmy.example/post/1",
        "https://lemmy.example/post/2",
        "https://other.example/comment/11",
    } <= stored(store, as_set=True)
    searches = srv.served("/api/v3/search")
    assert {(r.arg("q"), r.arg("type_")) for r in searches} == {
        (t, k) for t in ("acme", "globex", "initech") for k in ("Posts", "Comments")
    }
    for r in searches:
        assert r.arg("sort") == "New" and r.arg("listing_type") == "All"
        assert r.arg("limit") == "50" and r.arg("page") == "1"


def test_walk_stops_at_the_watermark(srv, store):
    posts = [post_view(i, NOW - timedelta(minutes=30 * i), f"acme post {i}") for i in range(1, 40)]
    fake = LemmyFake(posts=posts)
    fake.install(srv)
    run(srv, store, limit=5)
    assert len(stored(store, as_set=True)) == 39
    newest = posts[0]["post"]["published"]
    fake.posts.insert(0, post_view(100, NOW + timedelta(hours=1), "acme brand new"))
    srv.requests.clear()
    run(srv, store, clock=NOW + timedelta(hours=2), limit=5, overlap_seconds=600)
    acme_posts = [
        r
        for r in srv.served("/api/v3/search")
        if r.arg("q") == "acme" and r.arg("type_") == "Posts"
    ]
    assert [r.arg("page") for r in acme_posts] == ["1"]  # page 1 already reaches the watermark
    assert (
        "https://lemmy.example/post/100" in stored(store, as_set=True)
        and len(stored(store, as_set=True)) == 40
    )
    assert newest  # the watermark was the newest published seen


def test_pages_until_watermark_when_many_new(srv, store):
    fake = LemmyFake(posts=[post_view(1, NOW - timedelta(days=1), "acme old")])
    fake.install(srv)
    run(srv, store, limit=5)
    fake.posts += [
        post_view(i, NOW + timedelta(minutes=i), f"acme burst {i}") for i in range(2, 14)
    ]
    srv.requests.clear()
    run(srv, store, clock=NOW + timedelta(hours=1), limit=5)
    pages = [
        r.arg("page")
        for r in srv.served("/api/v3/search")
        if r.arg("q") == "acme" and r.arg("type_") == "Posts"
    ]
    assert pages == ["1", "2", "3"]
    assert len(stored(store, as_set=True)) == 13


def test_lemmy_1_uses_v4(srv, store):
    fake = LemmyFake(
        posts=[post_view(1, NOW - timedelta(hours=1), "acme on v4")],
        version="1.0.0-beta.3",
        v4=True,
    )
    fake.install(srv)
    run(srv, store)
    assert srv.served("/api/v3/search") == []
    reqs = srv.served("/api/v4/search")
    assert {r.arg("search_term") for r in reqs} == {"acme", "globex", "initech"}
    assert stored(store, as_set=True) == {"https://lemmy.example/post/1"}


def test_v3_gone_falls_back_to_v4_with_page_cursor(srv, store):
    posts = [post_view(i, NOW - timedelta(minutes=i), f"acme {i}") for i in range(1, 8)]
    fake = LemmyFake(posts=posts, version="1.2.0", v3=False, v4=True)
    fake.install(srv)
    run(srv, store, limit=3)
    cursors = [
        r.arg("page_cursor")
        for r in srv.served("/api/v4/search")
        if r.arg("search_term") == "acme" and r.arg("type_") == "Posts"
    ]
    assert cursors == [None, "P3", "P6"]
    assert len(stored(store, as_set=True)) == 7


def test_same_post_via_two_instances_is_stored_once(store):
    with LocalServer() as a, LocalServer() as b:
        p = post_view(1, NOW - timedelta(hours=1), "acme federated")
        LemmyFake(posts=[p]).install(a)
        LemmyFake(posts=[copy.deepcopy(p)]).install(b)
        settings = settings_from_dict(
            {
                **SAMPLE_CONFIG,
                "sources": [
                    {"platform": "lemmy", "base_url": a.url, "name": "lemmy-a"},
                    {"platform": "lemmy", "base_url": b.url, "name": "lemmy-b"},
                ],
            }
        )
        lines = listen_once(settings, store, now=NOW, timeout=2)
    assert stored(store, as_set=True) == {"https://lemmy.example/post/1"}
    assert "1 new" in lines[0] and "0 new, 1 already stored" in lines[1]


def test_rate_limit_on_search_is_health_not_crash(srv, store):
    LemmyFake().install(srv)
    srv.script("/api/v3/search", Reply(429, {"error": "rate_limit_error"}))
    lines = run(srv, store)
    assert "lemmy: ok" in lines[0]  # a 60 s default wait is short: --once waited it out
    assert len(srv.served("/api/v3/search")) >= 7


def test_later_polls_walk_past_max_pages_until_the_watermark(srv, store):
    fake = LemmyFake(posts=[post_view(1, NOW - timedelta(hours=1), "acme first")])
    fake.install(srv)
    run(srv, store, limit=5, max_pages=2)
    burst = [post_view(i, NOW + timedelta(seconds=i), f"acme burst {i}") for i in range(2, 40)]
    fake.posts += burst
    run(srv, store, clock=NOW + timedelta(hours=1), limit=5, max_pages=2)
    assert len(stored(store, as_set=True)) == 39  # nothing lost although 8 pages were needed


def lemmy_1(view: dict, tag: str) -> dict:
    """A 0.19 view as Lemmy 1.0 serves it in a combined `search` list."""
    v = copy.deepcopy(view)
    inner = v[tag]
    inner["published_at"] = inner.pop("published")
    inner.update(v.pop("counts", {}))
    return {"type_": tag, **v}


def test_lemmy_1_combined_search_list_is_paged_to_the_end(srv, store):
    posts = [post_view(i, NOW - timedelta(minutes=i), f"acme {i}") for i in range(1, 8)]
    fake = LemmyFake(posts=posts, version="1.0.0", v4=True)
    fake.install(srv)

    def combined(req):
        out = fake.v4_search(req)
        tag = "post" if "posts" in out else "comment"
        views = out.pop(tag + "s")
        return {**out, "search": [lemmy_1(v, tag) for v in views]}

    srv.route("/api/v4/search", combined)
    run(srv, store, limit=3)
    assert len(stored(store, as_set=True)) == 7  # three pages, every post


def test_a_future_dated_post_does_not_lift_the_watermark(srv, store):
    # `published` is the origin server's clock: one post dated a year ahead must not
    # make later polls stop at page 1 while new posts fill pages 2, 3...
    fake = LemmyFake(
        posts=[
            post_view(1, NOW - timedelta(hours=1), "acme first"),
            post_view(2, NOW + timedelta(days=365), "acme from a skewed clock"),
        ]
    )
    fake.install(srv)
    run(srv, store, limit=5)
    fake.posts += [post_view(i, NOW + timedelta(minutes=i), f"acme new {i}") for i in range(3, 16)]
    run(srv, store, clock=NOW + timedelta(hours=1), limit=5)
    assert len(stored(store, as_set=True)) == 15


def test_a_list_that_is_not_a_list_is_counted_not_a_crash(srv, store):
    LemmyFake().install(srv)
    srv.route("/api/v3/search", lambda req: {"posts": 7, "comments": []})
    lines = run(srv, store)
    assert lines[0].startswith("lemmy: ok"), lines


def test_a_walk_saved_with_other_terms_starts_its_steps_again(srv, store):
    # A walk of ["zeta"] stopped at its comments step; "acme" was then added first.
    # Resuming `step 1` would now mean (Comments, acme) and skip acme's posts.
    fake = LemmyFake(
        posts=[post_view(i, NOW - timedelta(hours=i), f"acme post {i}") for i in range(1, 4)]
    )
    fake.install(srv)
    raw = {
        "brand": {"name": "Acme", "terms": ["acme", "zeta"]},
        "sources": [{"platform": "lemmy", "base_url": srv.url}],
    }
    settings = settings_from_dict(raw)
    src = settings.sources[0]
    walk = {
        "lower": (NOW - timedelta(days=1)).isoformat(),
        "step": 1,
        "page": 1,
        "page_cursor": None,
        "newest": None,
        "started": NOW.isoformat(),
        "terms": ["zeta"],
    }
    store.save_page(src.key, "Acme", [], {"watermark": None, "walk": walk})
    listen_once(settings, store, now=NOW, timeout=2)
    assert len(stored(store, as_set=True)) == 3


def test_an_instance_upgraded_while_running_is_detected_again(srv, store):
    from earful.poller import Poller

    fake = LemmyFake(posts=[post_view(1, NOW - timedelta(hours=1), "acme before")])
    fake.install(srv)
    settings = settings_from_dict(
        {**SAMPLE_CONFIG, "sources": [{"platform": "lemmy", "base_url": srv.url}]}
    )
    client = make_client(timeout=2)
    poller = Poller(settings, store, client=client, clock=lambda: NOW, sleep=lambda s: None)
    listener = poller.listener(settings.sources[0])
    q = listener.queries(settings.entities())[0]
    assert any(p.mentions for p in listener.poll(q, None))  # v3
    fake.posts.append(post_view(2, NOW - timedelta(minutes=5), "acme after"))
    fake.version, fake.v3, fake.v4 = "1.0.0", False, True  # upgraded, v3 removed
    with pytest.raises(SourceError):
        list(listener.poll(q, None))
    ids = {m.external_id for p in listener.poll(q, None) for m in p.mentions}
    assert "https://lemmy.example/post/2" in ids  # found through v4 without a restart
    client.close()


def test_a_stored_item_flagged_deleted_later_is_purged(srv, store):
    posts = [post_view(i, NOW - timedelta(minutes=2 * i), f"acme post {i}") for i in range(1, 6)]
    comments = [comment_view(11, NOW - timedelta(minutes=3), "acme support is slow")]
    fake = LemmyFake(posts=posts, comments=comments)
    fake.install(srv)
    run(srv, store)
    assert len(stored(store)) == 6
    # re-read in the overlap below the watermark, flagged: one post deleted, the comment
    # removed (an instance shows flagged items to an admin or moderator account)
    posts[1]["post"].update(deleted=True)
    comments[0]["comment"].update(removed=True)
    lines = run(srv, store, clock=NOW + timedelta(minutes=1))
    assert "2 purged (deleted at the source)" in lines[0]
    left = stored(store, as_set=True)
    assert "https://lemmy.example/post/2" not in left
    assert "https://other.example/comment/11" not in left
    assert len(left) == 4

"""Reddit listener: parse on fixtures (JSON and RSS), OAuth search and the RSS fallback on a local server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, listener_for, live_poll, stored
from localserver import HTML_403, LocalServer, Reply

from earful.config import settings_from_dict
from earful.schema import queue_items, rollup_hourly
from listeners.base import Query, SourceError
from listeners.reddit import (
    build_query,
    is_open,
    parse,
    parse_rss,
    time_window,
    user_agent,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
TOKEN = "/api/v1/access_token"
SEARCH = "/r/all/search"
SECRETS = {"RID": "client-id", "RSECRET": "client-secret"}
QUERY = Query("Acme", "Acme", ("acme", '"acme cloud"', '"globex cloud"'))


def fixture(name):
    return (FIXTURES / "reddit" / name).read_bytes()


def make(base_url, secrets=None, **options):
    src = {"platform": "reddit", "base_url": base_url, "oauth_url": base_url, **options}
    return listener_for(src, now=NOW, secrets=secrets)[0]


def with_oauth(base_url, **options):
    return make(base_url, SECRETS, client_id_env="RID", client_secret_env="RSECRET", **options)


def oauth_settings(url):
    """A config with one Reddit source using the app credentials, against `url`."""
    src = {
        "platform": "reddit",
        "base_url": url,
        "oauth_url": url,
        "client_id_env": "RID",
        "client_secret_env": "RSECRET",
    }
    return settings_from_dict({**SAMPLE_CONFIG, "sources": [src]}, secrets=SECRETS)


def run(listener, cursor, query=QUERY):
    pages = list(listener.poll(query, cursor))
    saved = cursor
    for p in pages:
        if p.cursor is not None:
            saved = p.cursor
    return pages, saved


def thing(n: int, minutes_ago: float, selftext: str = "acme is down again") -> dict:
    return {
        "kind": "t3",
        "data": {
            "id": f"p{n}",
            "name": f"t3_p{n}",
            "title": f"Acme post {n}",
            "selftext": selftext,
            "author": f"user{n}",
            "created_utc": (NOW - timedelta(minutes=minutes_ago)).timestamp(),
            "permalink": f"/r/sysadmin/comments/p{n}/acme_post/",
            "score": 1,
            "num_comments": 0,
        },
    }


class FakeReddit:
    """OAuth token endpoint + `/r/all/search` with sort=new and `after` paging."""

    def __init__(self, things=(), cap=None):
        self.things = list(things)
        self.cap = cap  # a listing stops after this many items, as Reddit's do (about 1,000)
        self.after_first = None  # called once after the first search (a post deleted mid-walk)
        self.broken_after = None  # searches answered before every later one fails with a 500

    def install(self, srv):
        srv.route(TOKEN, self.token)
        srv.route(SEARCH, self.search)

    def token(self, req):
        expected = base64.b64encode(b"client-id:client-secret").decode()
        if req.headers.get("authorization") != f"Basic {expected}":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        return {"access_token": "tok-123", "token_type": "bearer", "expires_in": 3600}

    def search(self, req):
        if self.broken_after is not None:
            if self.broken_after <= 0:
                return Reply(500, {"message": "Internal Server Error", "error": 500})
            self.broken_after -= 1
        if req.headers.get("authorization") != "bearer tok-123":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        items = sorted(self.things, key=lambda t: -t["data"]["created_utc"])[: self.cap]
        after = req.arg("after")
        if after:
            names = [t["data"]["name"] for t in items]
            # an anchor that is gone (deleted) gives an empty listing, as Reddit's does
            items = items[names.index(after) + 1 :] if after in names else []
        limit = int(req.arg("limit") or 25)
        page = items[:limit]
        more = len(items) > limit
        if self.after_first is not None:
            hook, self.after_first = self.after_first, None
            hook()
        return {
            "kind": "Listing",
            "data": {
                "after": page[-1]["data"]["name"] if more and page else None,
                "before": None,
                "children": page,
                "dist": len(page),
            },
        }


# -- pure parsing ---------------------------------------------------------------
def test_parse_sample_listing():
    mentions, skipped = parse(json.loads(fixture("search.json")))
    assert skipped == 0
    first = mentions[0]
    assert first.external_id == first.native_id == first.thread_id == "t3_3x4kt2"
    assert first.url == (
        "https://www.reddit.com/r/redditdev/comments/3x4kt2/"
        "praw_is_there_an_easy_way_of_getting_a_list_of/"
    )
    assert first.author == "GrinningMouth38"
    assert first.created_at == datetime(2015, 12, 16, 21, 3, 6, tzinfo=UTC)
    assert first.text.startswith("[PRAW] Is there an easy way")
    assert "\n\nAs the title says." in first.text
    assert first.engagement == 2 + 5


def test_parse_purges_deleted_and_removed_and_skips_malformed():
    mentions, skipped = parse(json.loads(fixture("search_extra.json")))
    names = [m.external_id for m in mentions]
    assert names == ["t3_acme01", "t1_c0ffee", "t3_acme05"]  # acme02 removed, acme03 deleted
    assert skipped == 1  # acme04 has no name or date; purged items are not "malformed"
    post, comment, link = mentions
    assert "& no reply from support" in post.text  # an escaped entity is unescaped
    assert comment.in_reply_to == "t3_acme01" and comment.thread_id == "t3_acme01"
    assert comment.text == "Acme support fixed it for me in a day"
    assert link.text == "Acme link post"
    assert all("[deleted]" not in m.text and "[removed]" not in m.text for m in mentions)


def test_parse_purges_the_newer_removed_by_tombstones_too():
    mentions, skipped = parse(json.loads(fixture("search_tombstones.json")))
    assert skipped == 0
    assert [m.external_id for m in mentions] == ["t3_acme10"]  # "[ Removed by Reddit ]" etc.


def test_parse_rss_purges_a_removed_by_reddit_entry():
    kept, gone = thing(1, 5), thing(2, 6, selftext="[ Removed by Reddit ]")
    mentions, _ = parse_rss(atom([kept, gone]))
    assert [m.external_id for m in mentions] == ["t3_p1"]


@pytest.mark.parametrize("created_utc", [1e17, 1e20, float("inf")])
def test_parse_skips_a_timestamp_beyond_the_platforms_range(created_utc):
    listing = json.loads(fixture("search.json"))
    listing["data"]["children"][0]["data"]["created_utc"] = created_utc
    mentions, skipped = parse(listing)
    assert skipped == 1 and len(mentions) == len(listing["data"]["children"]) - 1


def test_parse_rss_takes_the_post_text_without_boilerplate():
    mentions, skipped = parse_rss(fixture("search.rss"))
    assert skipped == 1  # an entry whose id is not a fullname
    assert [m.external_id for m in mentions] == ["t3_1acme01", "t3_1acme02"]  # removed one gone
    first = mentions[0]
    assert first.author == "pat_ops"
    assert first.created_at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert first.text == (
        "Acme Cloud keeps logging me out\n\n"
        'Anyone else seeing this since the update? Support says "working on it".\n\n'
        "Second paragraph & more."
    )
    assert "submitted by" not in mentions[1].text
    assert mentions[1].text == "Acme raises prices again"


def test_parse_rejects_a_non_listing():
    with pytest.raises(SourceError) as err:
        parse({"error": 500})
    assert err.value.kind == "bad_payload"


def test_query_user_agent_and_time_window():
    assert build_query(QUERY) == 'acme OR "globex cloud"'  # "acme cloud" is covered by acme
    assert build_query(Query("custom", "Acme", (), "acme subreddit:sysadmin")) == (
        "acme subreddit:sysadmin"
    )
    assert user_agent("acme_support") == "python:earful:0.1.0 (by /u/acme_support)"
    assert user_agent(None).startswith("python:earful:0.1.0 (+https://")
    assert [time_window(s) for s in (60, 3601, 86400 * 3, 86400 * 20, 86400 * 400)] == [
        "hour",
        "day",
        "week",
        "month",
        "all",
    ]


# -- OAuth search -------------------------------------------------------------------
def test_oauth_search_pages_to_the_watermark_with_token_and_user_agent():
    with LocalServer() as srv:
        fake = FakeReddit([thing(n, minutes_ago=300 - n) for n in range(250)])
        fake.install(srv)
        listener = with_oauth(srv.url, username="acme_support")
        pages, cursor = run(listener, None)
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(f"t3_p{n}" for n in range(250))
        token_req = srv.served(TOKEN)[0]
        assert token_req.method == "POST" and b"grant_type=client_credentials" in token_req.body
        searches = srv.served(SEARCH)
        assert [r.arg("after") for r in searches] == [None, "t3_p150", "t3_p50"]
        first = searches[0]
        assert first.arg("q") == 'acme OR "globex cloud"'
        assert first.arg("sort") == "new" and first.arg("raw_json") == "1"
        assert first.arg("limit") == "100" and first.arg("t") == "week"
        assert first.arg("restrict_sr") == "0"
        for r in (token_req, *searches):
            assert r.headers["user-agent"] == "python:earful:0.1.0 (by /u/acme_support)"
        assert cursor == {"since": thing(249, 51)["data"]["created_utc"]}
        # each page carries what it covers: a failure after it resumes below its last post
        backfill = (NOW - timedelta(days=7)).timestamp()
        newest = thing(249, 51)["data"]["created_utc"]
        assert [p.cursor for p in pages[:2]] == [
            {"floor": backfill, "after": "t3_p150", "newest": newest},
            {"floor": backfill, "after": "t3_p50", "newest": newest},
        ]
        assert not pages[-1].more
        # next poll: one token for the process, stops at the watermark minus overlap
        fake.things.append(thing(900, minutes_ago=1))
        pages, cursor2 = run(listener, cursor)
        assert len(srv.served(TOKEN)) == 1
        assert srv.served(SEARCH)[-1].arg("t") == "day"  # 51 min + 10 min overlap
        new = [m.external_id for p in pages for m in p.mentions]
        assert "t3_p900" in new and len(new) == 1 + 11  # ten minutes of overlap refetched
        assert cursor2 == {"since": thing(900, 1)["data"]["created_utc"]}


def test_oauth_walk_cut_short_saves_its_gap_and_the_next_walk_continues_it():
    with LocalServer() as srv:
        things = [thing(n, minutes_ago=100 - n) for n in range(50)]
        FakeReddit([*things, thing(99, minutes_ago=240)]).install(srv)  # one below the floor
        listener = with_oauth(srv.url, limit=10, max_pages=2)
        old = {"since": (NOW - timedelta(hours=3)).timestamp()}
        pages, cursor = run(listener, old)
        assert len([m for p in pages for m in p.mentions]) == 20
        newest = things[-1]["data"]["created_utc"]
        floor = old["since"] - 600
        assert cursor == {**old, "floor": floor, "after": "t3_p30", "newest": newest}
        assert pages[-1].done and pages[-1].more
        pages, cursor = run(listener, cursor)
        assert [r.arg("after") for r in srv.served(SEARCH)[2:]] == ["t3_p30", "t3_p20"]
        assert cursor["after"] == "t3_p10" and pages[-1].more  # the gap only closes
        pages, cursor = run(listener, cursor)
        assert [m.external_id for p in pages for m in p.mentions] == [
            f"t3_p{n}" for n in range(9, -1, -1)
        ]
        assert cursor == {"since": newest} and not pages[-1].more


def test_oauth_walk_whose_after_anchor_vanishes_closes_the_step_and_says_so():
    with LocalServer() as srv:
        fake = FakeReddit([thing(n, minutes_ago=100 - n) for n in range(50)])
        fake.install(srv)
        # the first page's last post (the next request's `after`) is deleted mid-walk
        fake.after_first = lambda: fake.things.remove(
            next(t for t in fake.things if t["data"]["name"] == "t3_p40")
        )
        listener = with_oauth(srv.url, limit=10)
        old = {"since": (NOW - timedelta(hours=3)).timestamp()}
        pages, cursor = run(listener, old)
        assert [r.arg("after") for r in srv.served(SEARCH)] == [None, "t3_p40"]
        # the listing cannot be followed further: the next step starts above what was seen,
        # and the cursor records that this one ended early
        newest = thing(49, 51)["data"]["created_utc"]
        assert cursor == {"since": newest, "ended": "anchor_gone"} and not pages[-1].more


def test_oauth_listing_cap_closes_the_step_and_says_so():
    with LocalServer() as srv:
        FakeReddit([thing(n, minutes_ago=100 - n) for n in range(50)], cap=30).install(srv)
        listener = with_oauth(srv.url, limit=10)
        old = {"since": (NOW - timedelta(hours=3)).timestamp()}
        pages, cursor = run(listener, old)
        assert len(srv.served(SEARCH)) == 3  # the third full page came without `after`
        assert len([m for p in pages for m in p.mentions]) == 30
        # 20 posts below the cap are out of reach through the listing: recorded, not retried
        newest = thing(49, 51)["data"]["created_utc"]
        assert cursor == {"since": newest, "ended": "listing_cap"} and not pages[-1].more


def test_rejected_app_credentials_need_credentials():
    with LocalServer() as srv:
        FakeReddit().install(srv)
        listener = make(
            srv.url,
            {"RID": "client-id", "RSECRET": "wrong"},
            client_id_env="RID",
            client_secret_env="RSECRET",
        )
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "needs_credentials"
        assert "client_id_env" in err.value.message


# -- RSS fallback ------------------------------------------------------------------------
def test_without_credentials_reads_the_public_rss_search_feed():
    with LocalServer() as srv:
        srv.route(
            "/search.rss",
            Reply(200, fixture("search.rss"), {"Content-Type": "application/atom+xml"}),
        )
        listener = make(srv.url)
        pages, cursor = run(listener, None)
        got = [m.external_id for p in pages for m in p.mentions]
        assert got == ["t3_1acme01", "t3_1acme02"]
        req = srv.served("/search.rss")[0]
        assert req.arg("q") == 'acme OR "globex cloud"' and req.arg("sort") == "new"
        assert req.headers["user-agent"].startswith("python:earful:")
        assert "authorization" not in req.headers
        assert not srv.served(TOKEN)
        assert cursor == {"since": datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()}


def atom(things) -> str:
    """A Reddit search feed for `things` (newest first), entry ids being fullnames."""
    entries = "".join(
        f"<entry><author><name>/u/{d['author']}</name></author>"
        f'<content type="html">&lt;div class=&quot;md&quot;&gt;&lt;p&gt;{d["selftext"]}'
        f"&lt;/p&gt;&lt;/div&gt;&lt;!-- SC_ON --&gt;</content><id>{d['name']}</id>"
        f'<link href="https://www.reddit.com{d["permalink"]}" />'
        f"<published>{datetime.fromtimestamp(d['created_utc'], UTC).isoformat()}</published>"
        f"<title>{d['title']}</title></entry>"
        for d in (t["data"] for t in things)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'


class FakeRedditRss:
    """`/search.rss` with sort=new, `limit` and `after` (a fullname), as the listing takes them."""

    def __init__(self, things, cap=None):
        self.things = list(things)
        self.cap = cap  # the listing stops after this many items

    def __call__(self, req):
        items = sorted(self.things, key=lambda t: -t["data"]["created_utc"])[: self.cap]
        after = req.arg("after")
        if after:
            names = [t["data"]["name"] for t in items]
            items = items[names.index(after) + 1 :] if after in names else []
        body = atom(items[: int(req.arg("limit") or 25)])
        return Reply(200, body, {"Content-Type": "application/atom+xml; charset=UTF-8"})


def test_rss_pages_back_with_after_its_last_entry_instead_of_dropping_the_rest():
    with LocalServer() as srv:
        things = [thing(n, minutes_ago=300 - n) for n in range(150)]
        srv.route("/search.rss", FakeRedditRss(things))
        pages, cursor = run(make(srv.url), None)
        got = [m.external_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(t["data"]["name"] for t in things)  # all 150, not 100
        assert [r.arg("after") for r in srv.served("/search.rss")] == [None, "t3_p50"]
        assert srv.served("/search.rss")[0].arg("limit") == "100"
        assert cursor == {"since": thing(149, 151)["data"]["created_utc"]}


def test_rss_walk_cut_short_continues_from_its_anchor_next_walk():
    with LocalServer() as srv:
        things = [thing(n, minutes_ago=100 - n) for n in range(50)]
        srv.route("/search.rss", FakeRedditRss([*things, thing(99, minutes_ago=240)]))
        old = {"since": (NOW - timedelta(hours=3)).timestamp()}
        listener = make(srv.url, limit=10, max_pages=3)
        pages, cursor = run(listener, old)
        assert len([m for p in pages for m in p.mentions]) == 30
        assert cursor["after"] == "t3_p20" and cursor["since"] == old["since"]
        assert pages[-1].more
        pages, cursor = run(listener, cursor)
        assert srv.served("/search.rss")[3].arg("after") == "t3_p20"
        assert len([m for p in pages for m in p.mentions]) == 20
        assert cursor == {"since": things[-1]["data"]["created_utc"]}


def test_subreddit_feed_and_blocked_html_page():
    with LocalServer() as srv:
        srv.route("/r/sysadmin/search.rss", Reply(403, HTML_403, {"Content-Type": "text/html"}))
        listener = make(srv.url, subreddit="sysadmin")
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "blocked"
        assert srv.served("/r/sysadmin/search.rss")[0].arg("restrict_sr") == "1"


# -- end to end through the poller ----------------------------------------------
def test_listen_once_rss_stores_posts_but_never_removed_ones(sqlite_store):
    with LocalServer() as srv:
        srv.route(
            "/search.rss",
            Reply(200, fixture("search.rss"), {"Content-Type": "application/atom+xml"}),
        )
        src = {"platform": "reddit", "base_url": srv.url}
        settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [src]})
        listen_once(settings, sqlite_store, now=NOW)
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store) == ["t3_1acme01", "t3_1acme02"]


def test_listen_once_oauth_through_faults(sqlite_store):
    with LocalServer() as srv:
        fake = FakeReddit([thing(n, minutes_ago=400 - n) for n in range(230)])
        fake.install(srv)
        settings = oauth_settings(srv.url)
        srv.fault(SEARCH, "500")
        srv.fault(SEARCH, "reset")
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store) == sorted(t["data"]["name"] for t in fake.things)
        fake.things += [thing(n, minutes_ago=2) for n in range(900, 905)]
        fake.things.append(thing(905, minutes_ago=2, selftext="[removed]"))
        listen_once(settings, sqlite_store, now=NOW)
        expected = {t["data"]["name"] for t in fake.things} - {"t3_p905"}
        assert stored(sqlite_store) == sorted(expected)


def test_a_stored_post_removed_later_is_purged_when_a_walk_reads_it_again(sqlite_store):
    with LocalServer() as srv:
        # complaints that need a reply: they enter the reply queue
        text = "my acme order never arrived, can someone help?"
        fake = FakeReddit([thing(n, minutes_ago=30 - n, selftext=text) for n in range(25)])
        fake.install(srv)
        settings = oauth_settings(srv.url)
        listen_once(settings, sqlite_store, now=NOW)
        assert len(stored(sqlite_store)) == 25
        with sqlite_store.read() as c:
            assert c.scalar(sa.select(sa.func.count()).select_from(queue_items)) == 25
        # within the overlap below the watermark: one deleted, one removed by a moderator
        fake.things[20]["data"]["selftext"] = "[deleted]"
        fake.things[22]["data"]["selftext"] = "[ Removed by moderator ]"
        lines = listen_once(settings, sqlite_store, now=NOW + timedelta(minutes=1))
        assert "2 purged (deleted at the source)" in " ".join(lines)
        left = stored(sqlite_store)
        assert "t3_p20" not in left and "t3_p22" not in left and len(left) == 23
        with sqlite_store.read() as c:
            assert c.scalar(sa.select(sa.func.count()).select_from(queue_items)) == 23
            assert c.scalar(sa.select(sa.func.sum(rollup_hourly.c.n))) == 23


def test_a_revoked_token_is_replaced_on_the_next_poll():
    with LocalServer() as srv:
        fake = FakeReddit([thing(1, 5)])
        fake.install(srv)
        listener = with_oauth(srv.url)
        srv.script(SEARCH, Reply(401, {"message": "Unauthorized", "error": 401}))
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "needs_credentials"
        pages, _ = run(listener, None)
        assert [m.external_id for p in pages for m in p.mentions] == ["t3_p1"]
        assert len(srv.served(TOKEN)) == 2


# -- a busy brand: more posts per poll than one walk reads ------------------------
def saved_cursor(store, settings):
    return store.get_cursor(settings.sources[0].key, "custom") or {}


def busy(srv, oauth, things, cap=None, **options):
    """A fake Reddit (OAuth or RSS) holding `things`, and settings reading it 10 a page."""
    src = {"platform": "reddit", "base_url": srv.url, "oauth_url": srv.url, "query": "acme"}
    src |= {"limit": 10, "max_pages": 3, **options}
    if oauth:
        fake = FakeReddit(things, cap=cap)
        fake.install(srv)
        src |= {"client_id_env": "RID", "client_secret_env": "RSECRET"}
    else:
        fake = FakeRedditRss(things, cap=cap)
        srv.route("/search.rss", fake)
    settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [src]}, secrets=SECRETS)
    return fake, settings, SEARCH if oauth else "/search.rss"


def names(things):
    return sorted(t["data"]["name"] for t in things)


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "rss"])
def test_a_busy_brand_catches_up_over_polls_with_none_lost_and_none_twice(any_store, oauth):
    with LocalServer() as srv:
        history = [thing(n, minutes_ago=125 - n * 0.8) for n in range(155)]
        fake, settings, path = busy(srv, oauth, history)
        new_total, before, marks, prev = 0, 0, [], {}
        for poll in range(60):
            now = NOW + timedelta(minutes=poll)
            if poll < 8:  # brand-new posts keep arriving above the walk
                fake.things += [thing(1000 + 3 * poll + k, -poll - k / 100) for k in range(3)]
            res = live_poll(settings, any_store, now)
            assert res.error is None, res.summary()
            new_total += res.new
            asked = srv.served(path)[before:]
            before += len(asked)
            assert 1 <= len(asked) <= 3  # max_pages per poll, never more
            cur = saved_cursor(any_store, settings)
            assert res.more == is_open(cur)  # an unfinished step brings the next poll forward
            assert "ended" not in cur  # every step reached its bound
            if prev.get("since") is not None:  # the watermark never moves back
                assert cur["since"] >= prev["since"]
            if is_open(prev):  # the gap continues below its anchor, and only closes
                assert asked[0].arg("after") == prev["after"]
                assert asked[-1].arg("after") != prev["after"] or len(asked) == 1
            marks.append(cur.get("since"))
            prev = cur
            if poll >= 8 and not is_open(cur):
                break
        else:
            raise AssertionError("the walk never caught up")
        assert stored(any_store) == names(fake.things)
        assert new_total == len(fake.things)  # each stored once
        assert len({m for m in marks if m}) >= 2  # several steps, each moving the watermark up


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "rss"])
def test_once_catches_a_busy_brand_up_in_one_run(sqlite_store, oauth):
    with LocalServer() as srv:
        history = [thing(n, minutes_ago=125 - n * 0.8) for n in range(155)]
        fake, settings, path = busy(srv, oauth, history)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "FAILED" not in lines[0], lines
        assert stored(sqlite_store) == names(history)
        assert saved_cursor(sqlite_store, settings) == {"since": history[-1]["data"]["created_utc"]}
        assert len(srv.served(path)) > 3  # walked again while the listener had more


def test_a_poll_that_fails_mid_gap_resumes_where_it_left_off(sqlite_store):
    with LocalServer() as srv:
        history = [thing(n, minutes_ago=125 - n * 0.8) for n in range(155)]
        fake, settings, _ = busy(srv, True, history)
        live_poll(settings, sqlite_store, NOW)  # three pages of the backfill step
        gap = saved_cursor(sqlite_store, settings)
        assert gap["after"] == "t3_p125" and "since" not in gap
        fake.broken_after = 1  # the second search of the next poll fails, retries too
        res = live_poll(settings, sqlite_store, NOW)
        assert res.error is not None and not res.more
        assert srv.served(SEARCH)[3].arg("after") == "t3_p125"  # the gap, not the top
        kept = saved_cursor(sqlite_store, settings)
        assert kept == {**gap, "after": "t3_p115"}  # the good page counts
        fake.broken_after = None
        asked_before = len(srv.served(SEARCH))
        live_poll(settings, sqlite_store, NOW)
        assert srv.served(SEARCH)[asked_before].arg("after") == "t3_p115"
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store) == names(history)
        assert saved_cursor(sqlite_store, settings) == {"since": history[-1]["data"]["created_utc"]}


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "rss"])
def test_a_brand_over_the_listing_cap_closes_each_step_and_records_why(sqlite_store, oauth):
    with LocalServer() as srv:
        history = [thing(n, minutes_ago=125 - n * 0.8) for n in range(155)]
        fake, settings, path = busy(srv, oauth, history, cap=70)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "FAILED" not in lines[0], lines
        assert stored(sqlite_store) == names(history[-70:])  # below the cap: out of reach
        ended = "listing_cap" if oauth else "anchor_gone"  # the feed has no `after` to withhold
        newest = history[-1]["data"]["created_utc"]
        assert saved_cursor(sqlite_store, settings) == {"since": newest, "ended": ended}
        asked = len(srv.served(path))
        fake.things.append(thing(500, minutes_ago=-1))
        res = live_poll(settings, sqlite_store, NOW)  # the next step starts at the top again
        assert res.new == 1 and not res.more and len(srv.served(path)) - asked == 2
        assert saved_cursor(sqlite_store, settings) == {
            "since": thing(500, -1)["data"]["created_utc"]
        }


def test_an_old_cursor_continues_and_opens_a_gap(sqlite_store):
    with LocalServer() as srv:
        history = [thing(n, minutes_ago=125 - n * 0.8) for n in range(155)]
        fake, settings, _ = busy(srv, True, history)
        old = {"since": history[20]["data"]["created_utc"]}  # the shape saved before gaps
        with sqlite_store.write() as conn:
            sqlite_store.set_cursor(conn, settings.sources[0].key, "custom", old, NOW)
        res = live_poll(settings, sqlite_store, NOW)
        assert res.more
        assert saved_cursor(sqlite_store, settings) == {
            **old,
            "floor": old["since"] - 600,
            "after": "t3_p125",
            "newest": history[-1]["data"]["created_utc"],
        }
        listen_once(settings, sqlite_store, now=NOW)
        # down to the old watermark minus the ten-minute overlap, nothing below it
        floor = old["since"] - 600
        assert stored(sqlite_store) == names(
            t for t in history if t["data"]["created_utc"] >= floor
        )
        assert saved_cursor(sqlite_store, settings) == {"since": history[-1]["data"]["created_utc"]}

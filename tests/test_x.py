"""X listener: parse on fixtures, the since_id + next_token rule against a local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES, SAMPLE_CONFIG
from listener_util import listen_once, listener_for, live_poll, stored
from localserver import LocalServer, Reply

from earful.config import settings_from_dict
from listeners import _http
from listeners.base import Context, Query, SourceError
from listeners.x import XListener, build_query, parse, snowflake_time

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
SEARCH = "/2/tweets/search/recent"
SECRETS = {"XTOK": "AAAA-bearer"}
QUERY = Query("Acme", "Acme", ("acme", '"acme cloud"'))
# Snowflake ids minted an hour before NOW (their age matters: X refuses since_id > 7 days)
BASE_ID = (int(NOW.timestamp() * 1000) - 1288834974657 - 3_600_000) << 22


def load(name):
    return json.loads((FIXTURES / "x" / name).read_text())


def make(base_url, secrets=SECRETS, clock=None, **options):
    src = {"platform": "x", "base_url": base_url, "token_env": "XTOK", **options}
    return listener_for(src, now=NOW, secrets=secrets, clock=clock)[0]


def run(listener, cursor, query=QUERY):
    pages = list(listener.poll(query, cursor))
    saved = cursor
    for p in pages:
        if p.cursor is not None:
            saved = p.cursor
    return pages, saved


def tweet(n: int, minutes_ago: float = 10) -> dict:
    return {
        "id": str(BASE_ID + n),
        "text": f"acme tweet {n}",
        "author_id": "42",
        "created_at": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edit_history_tweet_ids": [str(BASE_ID + n)],
        "public_metrics": {"like_count": 1, "retweet_count": 0, "reply_count": 0, "quote_count": 0},
    }


class FakeX:
    """Recent search: newest first, since_id/until_id/start_time, max_results, next_token."""

    def __init__(self, tweets=()):
        self.tweets = list(tweets)
        self.after_first = None  # called once after the first request (posts arriving mid-walk)

    def __call__(self, req):
        if req.headers.get("authorization") != "Bearer AAAA-bearer":
            return Reply(401, {"title": "Unauthorized", "status": 401})
        assert not (req.arg("since_id") and req.arg("start_time"))
        items = sorted(self.tweets, key=lambda t: -int(t["id"]))
        if req.arg("since_id"):
            items = [t for t in items if int(t["id"]) > int(req.arg("since_id"))]
        if req.arg("until_id"):
            items = [t for t in items if int(t["id"]) < int(req.arg("until_id"))]
        if req.arg("start_time"):
            start = _http.iso(req.arg("start_time"))
            items = [t for t in items if _http.iso(t["created_at"]) >= start]
        token = req.arg("next_token")
        if token:  # the token pins the position: results newer than the first page don't shift it
            items = [t for t in items if int(t["id"]) < int(token)]
        per = int(req.arg("max_results") or 10)
        page = items[:per]
        meta = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if len(items) > per:
            meta["next_token"] = page[-1]["id"]
        body = {"meta": meta}
        if page:
            body["data"] = page
            body["includes"] = {
                "users": [
                    {"id": "42", "username": "acme_fan", "public_metrics": {"followers_count": 7}}
                ]
            }
        if self.after_first is not None:
            hook, self.after_first = self.after_first, None
            hook()
        return body


# -- pure parsing ---------------------------------------------------------------
def test_parse_sample_with_users_from_includes():
    mentions, skipped = parse(load("recent_search.json"))
    assert skipped == 0
    reply, root = mentions
    assert reply.external_id == reply.native_id == "1296887316556980230"
    assert reply.url == "https://x.com/TwitterDev/status/1296887316556980230"
    assert reply.author == "TwitterDev" and reply.author_followers == 513962
    assert reply.in_reply_to == "1296887091901718529"
    assert reply.thread_id == "1296887091901718529"
    assert reply.engagement == 9 + 3 + 26 + 2
    assert reply.created_at == datetime(2020, 8, 21, 19, 10, 5, tzinfo=UTC)
    assert reply.lang == "en"
    assert root.in_reply_to is None


def test_parse_note_tweets_edits_retweets_and_malformed():
    mentions, skipped = parse(load("recent_search_extra.json"))
    assert skipped == 1  # a tweet with no text
    by_native = {m.native_id: m for m in mentions}
    assert set(by_native) == {
        "1861000000000000005",
        "1861000000000000004",
        "1861000000000000001",
    }  # the retweet is not a mention
    note = by_native["1861000000000000005"]
    assert note.text.startswith("Acme Cloud migration notes, part one.")
    assert len(note.text) > 280 and "t.co" not in note.text
    edited = by_native["1861000000000000004"]
    assert edited.external_id == "1861000000000000002"  # stable across edits: first edit id
    assert edited.text == "acme support & billing <3 (edited)"
    assert edited.lang is None  # "und"
    assert edited.in_reply_to == "1861000000000000001"
    orphan = by_native["1861000000000000001"]
    assert orphan.author == "9999" and orphan.author_followers is None
    assert orphan.url == "https://x.com/i/status/1861000000000000001"


def test_parse_empty_and_bad_payloads():
    assert parse(load("recent_search_empty.json")) == ([], 0)
    with pytest.raises(SourceError) as err:
        parse(["not", "a", "response"])
    assert err.value.kind == "bad_payload"


def test_query_from_terms_excludes_retweets():
    assert build_query(QUERY) == "acme -is:retweet"  # "acme cloud" is covered by acme
    assert build_query(Query("k", "Acme", ("acme", '"globex cloud"'))) == (
        '(acme OR "globex cloud") -is:retweet'
    )
    assert build_query(Query("k", "Acme", (), "acme lang:en")) == "acme lang:en -is:retweet"
    assert build_query(Query("k", "Acme", (), "acme is:retweet")) == "acme is:retweet"


# -- fetching -----------------------------------------------------------------------
def test_first_poll_backfills_with_start_time_and_sends_the_bearer_token():
    with LocalServer() as srv:
        srv.route(SEARCH, FakeX([tweet(n) for n in range(1, 151)]))
        listener = make(srv.url)
        pages, cursor = run(listener, None)
        got = [m.native_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(str(BASE_ID + n) for n in range(1, 151))
        reqs = srv.served(SEARCH)
        assert len(reqs) == 2
        first = reqs[0]
        assert first.headers["authorization"] == "Bearer AAAA-bearer"
        assert first.arg("query") == "acme -is:retweet"
        assert first.arg("max_results") == "100"
        assert first.arg("start_time") == "2026-11-18T13:01:00Z"  # within the 7-day window
        assert "note_tweet" in first.arg("tweet.fields")
        assert "edit_history_tweet_ids" in first.arg("tweet.fields")
        assert first.arg("expansions") == "author_id"
        assert "public_metrics" in first.arg("user.fields")
        assert cursor == {"since_id": str(BASE_ID + 150)}
        assert all(p.cursor is None for p in pages[:-1]) and pages[-1].done


def test_since_id_rule_same_since_id_across_pages_and_first_pages_newest():
    with LocalServer() as srv:
        fake = FakeX([tweet(n) for n in range(1, 11)])
        srv.route(SEARCH, fake)
        listener = make(srv.url, max_results=10)
        _, cursor = run(listener, None)
        assert cursor == {"since_id": str(BASE_ID + 10)}
        fake.tweets += [tweet(n) for n in range(11, 36)]  # 25 new: three pages of 10
        fake.after_first = lambda: fake.tweets.append(tweet(36))  # arrives mid-walk
        pages, cursor = run(listener, cursor)
        reqs = srv.served(SEARCH)[-3:]
        assert [r.arg("since_id") for r in reqs] == [str(BASE_ID + 10)] * 3  # same since_id
        assert [r.arg("next_token") for r in reqs] == [None, str(BASE_ID + 26), str(BASE_ID + 16)]
        got = [m.native_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(str(BASE_ID + n) for n in range(11, 36))
        assert cursor == {"since_id": str(BASE_ID + 35)}  # the first page's newest_id
        # the post that arrived during the walk is picked up next time, not lost
        pages, cursor = run(listener, cursor)
        assert [m.native_id for p in pages for m in p.mentions] == [str(BASE_ID + 36)]
        assert cursor == {"since_id": str(BASE_ID + 36)}
        # nothing new: the watermark stays
        pages, again = run(listener, cursor)
        assert again == cursor and not [m for p in pages for m in p.mentions]


def test_a_walk_cut_short_fills_its_gap_next_poll_with_nothing_lost_or_doubled():
    with LocalServer() as srv:
        fake = FakeX([tweet(n) for n in range(1, 6)])
        srv.route(SEARCH, fake)
        listener = make(srv.url, max_results=10, max_pages=2)
        _, cursor = run(listener, None)
        fake.tweets += [tweet(n) for n in range(6, 56)]  # 50 new, but only 2 pages per poll
        seen: list[str] = []
        pages, cursor = run(listener, cursor)
        seen += [m.native_id for p in pages for m in p.mentions]
        assert cursor == {
            "since_id": str(BASE_ID + 5),
            "until_id": str(BASE_ID + 36),
            "next_since_id": str(BASE_ID + 55),
        }
        assert pages[-1].done and pages[-1].more  # a gap left open: poll again soon
        for _ in range(3):
            fake.tweets.append(tweet(100 + len(seen)))  # more keep coming
            pages, cursor = run(listener, cursor)
            seen += [m.native_id for p in pages for m in p.mentions]
        assert len(seen) == len(set(seen))  # nothing bought twice
        assert set(seen) == {t["id"] for t in fake.tweets} - {str(BASE_ID + n) for n in range(1, 6)}
        assert cursor == {"since_id": max((t["id"] for t in fake.tweets), key=int)}


def test_a_backfill_cut_short_fills_its_gap_from_the_start_it_began_with():
    at = {"now": NOW}
    old_at = NOW - timedelta(days=2) + timedelta(minutes=30)  # inside a 2-day backfill
    old = tweet(0, minutes_ago=(NOW - old_at).total_seconds() / 60)
    old["id"] = old["edit_history_tweet_ids"][0] = str(
        (int(old_at.timestamp() * 1000) - 1288834974657) << 22
    )
    with LocalServer() as srv:
        srv.route(SEARCH, FakeX([old, *(tweet(n) for n in range(1, 31))]))
        listener = make(
            srv.url, clock=lambda: at["now"], backfill="2d", max_results=10, max_pages=2
        )
        pages, cursor = run(listener, None)
        seen = [m.native_id for p in pages for m in p.mentions]
        assert cursor["start_time"] == "2026-11-23T13:00:00Z" and cursor["until_id"]
        at["now"] = NOW + timedelta(hours=1)  # the next poll, an hour later
        pages, cursor = run(listener, cursor)
        seen += [m.native_id for p in pages for m in p.mentions]
        assert srv.served(SEARCH)[-2].arg("start_time") == "2026-11-23T13:00:00Z"
        assert old["id"] in seen  # not dropped by a start moved an hour forward
        assert sorted(seen) == sorted([old["id"], *(str(BASE_ID + n) for n in range(1, 31))])


def test_without_a_token_or_with_a_rejected_one_needs_credentials():
    with LocalServer() as srv:
        srv.route(SEARCH, FakeX([tweet(1)]))
        listener = make(srv.url, secrets={"XTOK": "wrong"})
        with pytest.raises(SourceError) as err:
            run(listener, None)
        assert err.value.kind == "needs_credentials"
    src = {"platform": "x", "base_url": "http://127.0.0.1:9"}
    settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [src]})
    ctx = Context(source=settings.sources[0], client=_http.make_client(), clock=lambda: NOW)
    with pytest.raises(SourceError) as err:
        list(XListener(ctx).poll(QUERY, None))
    assert err.value.kind == "needs_credentials" and "token_env" in err.value.message


# -- end to end through the poller ----------------------------------------------
def test_listen_once_through_faults_stores_each_post_once(sqlite_store):
    with LocalServer() as srv:
        fake = FakeX([tweet(n) for n in range(1, 41)])
        srv.route(SEARCH, fake)
        src = {"platform": "x", "base_url": srv.url, "token_env": "XTOK", "max_results": 10}
        settings = settings_from_dict({**SAMPLE_CONFIG, "sources": [src]}, secrets=SECRETS)
        srv.fault(SEARCH, "429")
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store, column="native_id") == sorted(t["id"] for t in fake.tweets)
        fake.tweets += [tweet(n) for n in range(41, 80)]
        srv.script(
            SEARCH, Reply(503), Reply(200, '{"data": [', {"Content-Type": "application/json"})
        )
        listen_once(settings, sqlite_store, now=NOW)
        assert stored(sqlite_store, column="native_id") == sorted(t["id"] for t in fake.tweets)


def test_snowflake_time_and_a_since_id_older_than_the_window():
    minted = snowflake_time("1296887316556980230")  # the sample's created_at is 19:10:05
    assert minted is not None
    assert minted.replace(microsecond=0) == datetime(2020, 8, 21, 19, 10, 5, tzinfo=UTC)
    assert snowflake_time("nope") is None
    with LocalServer() as srv:
        srv.route(SEARCH, FakeX([tweet(1)]))
        listener = make(srv.url)
        week_old = str(BASE_ID - ((8 * 86400 * 1000) << 22))
        pages, cursor = run(listener, {"since_id": week_old})
        req = srv.served(SEARCH)[0]
        assert req.arg("since_id") is None
        assert req.arg("start_time") == "2026-11-18T13:01:00Z"
        assert cursor == {"since_id": str(BASE_ID + 1)}
        gap = {"since_id": week_old, "until_id": week_old, "next_since_id": str(BASE_ID + 1)}
        pages, cursor = run(listener, gap)
        assert srv.served(SEARCH)[-1].arg("since_id") == str(BASE_ID + 1)
        assert srv.served(SEARCH)[-1].arg("until_id") is None


def test_a_gap_whose_since_id_left_the_window_is_filled_from_the_window_not_rebought():
    with LocalServer() as srv:
        srv.route(SEARCH, FakeX([tweet(n) for n in range(1, 31)]))
        listener = make(srv.url, max_results=10)
        week_old = str(BASE_ID - ((8 * 86400 * 1000) << 22))
        gap = {
            "since_id": week_old,
            "until_id": str(BASE_ID + 21),
            "next_since_id": str(BASE_ID + 30),
        }
        pages, cursor = run(listener, gap)
        first = srv.served(SEARCH)[0]
        assert first.arg("since_id") is None and first.arg("start_time") == "2026-11-18T13:01:00Z"
        assert first.arg("until_id") == str(BASE_ID + 21)
        got = [m.native_id for p in pages for m in p.mentions]
        assert sorted(got) == sorted(str(BASE_ID + n) for n in range(1, 21))  # none above the gap
        assert cursor == {"since_id": str(BASE_ID + 30)}


# -- a busy brand: more posts per poll than one walk reads ------------------------
def busy_settings(url):
    src = {"platform": "x", "base_url": url, "token_env": "XTOK", "query": "acme"}
    src |= {"max_results": 10, "max_pages": 2}
    return settings_from_dict({**SAMPLE_CONFIG, "sources": [src]}, secrets=SECRETS)


def test_a_busy_brand_fills_its_gaps_over_polls_with_none_lost_and_none_twice(sqlite_store):
    with LocalServer() as srv:
        fake = FakeX([tweet(n, minutes_ago=60 - n * 0.3) for n in range(1, 151)])
        srv.route(SEARCH, fake)
        settings = busy_settings(srv.url)
        key = settings.sources[0].key
        new_total, before, prev, gaps = 0, 0, {}, 0
        for poll in range(40):
            now = NOW + timedelta(minutes=poll)
            if poll < 6:  # brand-new posts keep arriving above the walk
                fake.tweets += [tweet(1000 + 3 * poll + k, -poll) for k in range(3)]
            res = live_poll(settings, sqlite_store, now)
            assert res.error is None, res.summary()
            new_total += res.new
            asked = srv.served(SEARCH)[before:]
            before += len(asked)
            # max_pages for a gap, and as many again when it closes and the walk goes on above
            assert 1 <= len(asked) <= 4
            cur = sqlite_store.get_cursor(key, "custom") or {}
            assert res.more == bool(cur.get("until_id"))  # an open gap: come back at once
            gaps += res.more
            if prev.get("since_id") and cur.get("since_id"):  # never moves back
                assert int(cur["since_id"]) >= int(prev["since_id"])
            if prev.get("until_id") and cur.get("until_id"):
                if cur.get("next_since_id") == prev.get("next_since_id"):  # the same gap
                    assert int(cur["until_id"]) < int(prev["until_id"])  # only closes
            prev = cur
            if poll >= 6 and not res.more:
                break
        else:
            raise AssertionError("the gap never closed")
        assert stored(sqlite_store, column="native_id") == sorted(t["id"] for t in fake.tweets)
        assert new_total == len(fake.tweets)  # each bought and stored once
        assert gaps >= 3


def test_once_fills_a_busy_brands_gap_in_one_run(sqlite_store):
    with LocalServer() as srv:
        fake = FakeX([tweet(n, minutes_ago=60 - n * 0.3) for n in range(1, 151)])
        srv.route(SEARCH, fake)
        settings = busy_settings(srv.url)
        lines = listen_once(settings, sqlite_store, now=NOW)
        assert "FAILED" not in lines[0], lines
        assert stored(sqlite_store, column="native_id") == sorted(t["id"] for t in fake.tweets)
        cursor = sqlite_store.get_cursor(settings.sources[0].key, "custom")
        assert cursor == {"since_id": str(BASE_ID + 150)}
        # each page bought once (walked again at once), then one empty look above the gap
        assert len(srv.served(SEARCH)) == 15 + 1

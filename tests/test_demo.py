"""The demo stream: deterministic, realistic enough, idempotent when seeded, continued live."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from earful.config import settings_from_dict
from earful.demo import entities_of, generate, is_empty, seed_demo, spike_time
from earful.matching import Matcher
from earful.schema import mentions
from earful.store import Store
from listeners.base import Context
from listeners.demo import DemoListener

NOW = datetime(2026, 11, 25, 19, 23, 17, tzinfo=UTC)  # a Wednesday evening


def make_settings(**extra):
    raw = {
        "brand": {
            "name": "Acme",
            "terms": ["acme", '"acme cloud"'],
            "exclude": ["acme anvil meme"],
            "handles": ["@acme", "acme@mastodon.social", "acme.bsky.social"],
        },
        "competitors": {"Globex": ["globex"], "Initech": ["initech", "@initech"]},
        "sources": [{"platform": "demo", "every": "1m", "backfill": "7d"}],
        **extra,
    }
    return settings_from_dict(raw)


@pytest.fixture(scope="module")
def settings():
    return make_settings()


@pytest.fixture(scope="module")
def week(settings):
    start = NOW - timedelta(days=7)
    return list(generate(settings, start, NOW, spike_at=spike_time(NOW)))


def key(m):
    return (m.platform, m.external_id, m.text, m.created_at, m.author, m.in_reply_to, m.url)


def test_same_seed_same_posts_and_other_seed_differs(settings):
    start, end = NOW - timedelta(hours=30), NOW
    a = [key(m) for m in generate(settings, start, end, seed=3)]
    b = [key(m) for m in generate(settings, start, end, seed=3)]
    c = [key(m) for m in generate(settings, start, end, seed=4)]
    assert a == b and len(a) > 200
    assert {k[1] for k in a}.isdisjoint({k[1] for k in c})
    assert [k[2] for k in a] != [k[2] for k in c]


def test_chunked_equals_whole_at_odd_boundaries(settings):
    start, end = NOW - timedelta(hours=50, minutes=13), NOW
    spike = spike_time(NOW)
    whole = [key(m) for m in generate(settings, start, end, spike_at=spike)]
    cuts = [start + timedelta(minutes=m) for m in (0, 7, 61, 400, 401, 1777, 2500)] + [end]
    chunked = [
        key(m)
        for a, b in zip(cuts, cuts[1:], strict=False)
        for m in generate(settings, a, b, spike_at=spike)
    ]
    assert chunked == whole
    assert len({k[1] for k in whole}) == len(whole)  # ids unique


def test_posts_are_ascending_within_range_and_labelled(week):
    times = [m.created_at for m in week]
    assert times == sorted(times)
    assert times[0] >= NOW - timedelta(days=7) and times[-1] < NOW
    for m in week:
        assert m.is_demo and m.source == "demo" and m.external_id.startswith("demo:")
        assert m.platform in {"x", "mastodon", "bluesky", "reddit", "hackernews", "lemmy", "rss"}
        assert m.url.startswith("https://")


def test_every_post_matches_its_entity(settings, week):
    matcher = Matcher.from_settings(settings)
    wrong = [m for m in week if matcher.match(m.text) != m.raw["entity"]]
    assert wrong == []


def test_mix_has_everything_a_dashboard_needs(settings, week):
    kinds = Counter(m.raw["kind"] for m in week)
    for k in ("complaint", "question", "praise", "other", "sarcasm", "foreign", "reply", "news"):
        assert kinds[k] > 10, k
    topics = Counter(m.raw["topic"] for m in week if m.raw["kind"] == "complaint")
    assert set(topics) >= {"delay", "outage", "billing", "lost", "broken", "support"}
    assert {m.lang for m in week} >= {"en", "de", "es", "fr", "ja"}
    platforms = Counter(m.platform for m in week)
    assert len(platforms) == 7
    assert any("@acme" in m.text for m in week)
    assert any("#acme" in m.text.lower() for m in week)
    assert any("https://" in m.text for m in week)
    # competitors are smaller than the brand, but present
    ents = Counter(m.raw["entity"] for m in week)
    assert ents["Acme"] > ents["Globex"] > ents["Initech"] > 100


def test_threads_share_a_root_across_several_posts(week):
    by_id = {m.external_id: m for m in week}
    replies = [m for m in week if m.in_reply_to]
    assert len(replies) > 50
    threads = Counter(m.thread_id for m in week if m.thread_id)
    assert max(threads.values()) >= 3
    inside = [r for r in replies if r.thread_id in by_id]  # roots before the range are cut off
    assert len(inside) > 0.9 * len(replies)
    for r in inside:
        root = by_id[r.thread_id]
        assert root.thread_id == root.external_id and root.in_reply_to is None
        assert r.in_reply_to in by_id and r.created_at > root.created_at
        assert r.platform == root.platform


def test_authors_recur_with_heavy_tailed_followers(week):
    authors = Counter(m.author for m in week if m.platform == "x")
    assert authors.most_common(1)[0][1] >= 20  # some regulars
    followers = sorted({m.author_followers for m in week if m.author_followers is not None})
    assert followers[0] < 50 and followers[-1] > 50_000
    median = followers[len(followers) // 2]
    assert median < 2_000


def test_spike_is_a_burst_of_negative_brand_posts(week):
    spike = spike_time(NOW)
    assert NOW - timedelta(days=3) < spike < NOW - timedelta(days=1)
    in_spike = [m for m in week if m.raw["spike"]]
    assert in_spike and all(m.raw["entity"] == "Acme" for m in in_spike)
    per_hour = Counter(
        m.created_at.replace(minute=0, second=0, microsecond=0)
        for m in week
        if m.raw["entity"] == "Acme"
    )
    same_hour_day_before = (
        per_hour[spike - timedelta(days=1)]
        + per_hour[spike + timedelta(hours=1) - timedelta(days=1)]
    )
    assert per_hour[spike] + per_hour[spike + timedelta(hours=1)] > 3 * same_hour_day_before
    roots = [m for m in in_spike if m.raw["kind"] != "reply"]
    negative = sum(1 for m in roots if m.raw["intent"] in ("complaint", "sarcasm"))
    assert negative / len(roots) > 0.6


def test_rhythm_quieter_at_night_and_weekends(settings):
    start = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday; four weeks without spike
    posts = list(generate(settings, start, start + timedelta(days=28)))
    by_hour = Counter(m.created_at.hour for m in posts)
    assert by_hour[15] > 3 * by_hour[3]
    by_day = Counter(m.created_at.weekday() for m in posts)
    assert by_day[1] > 1.4 * by_day[6]
    per_day = sum(1 for m in posts if m.raw["entity"] == "Acme") / 28
    assert 300 <= per_day <= 800


def test_unusual_terms_still_match():
    s = settings_from_dict(
        {
            "brand": {"name": "Umbrella Corp", "terms": ['"umbrella corp"']},
            "competitors": {"Hooli": ["@hooli"]},
        }
    )
    matcher = Matcher.from_settings(s)
    posts = list(generate(s, NOW - timedelta(hours=12), NOW))
    assert posts and all(matcher.match(m.text) == m.raw["entity"] for m in posts)
    assert {m.raw["entity"] for m in posts} == {"Umbrella Corp", "Hooli"}
    assert [e.name for e in entities_of(s)] == ["Umbrella Corp", "Hooli"]


def test_seed_demo_is_idempotent_in_a_real_sqlite_file(tmp_path, settings):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.upgrade()
    assert is_empty(store)
    calls = []
    n = seed_demo(store, settings, days=3, now=NOW, progress=lambda d, t: calls.append((d, t)))
    assert n > 1000 and store.count_mentions() == n
    assert not is_empty(store)
    assert calls[-1] == (72, 72) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert store.get_cursor("demo", "seed")["until"] == NOW.isoformat()
    assert store.get_cursor("demo", "Acme")["until"] == NOW.isoformat()
    with store.read() as conn:
        lag = conn.execute(sa.select(mentions.c.created_at, mentions.c.fetched_at)).all()
    assert all(timedelta(0) <= f - c <= timedelta(minutes=2) for c, f in lag)
    assert seed_demo(store, settings, days=3, now=NOW) == 0
    assert store.count_mentions() == n


def listener(settings, clock, **options):
    src = settings.sources[0].model_copy(update=options) if options else settings.sources[0]
    ctx = Context(
        source=src, client=httpx.Client(transport=httpx.MockTransport(_no_http)), clock=clock
    )
    return DemoListener(ctx)


def _no_http(request):  # the demo never makes a request
    raise AssertionError(f"unexpected request {request.url}")


def test_listener_continues_after_seed_without_duplicates(tmp_path, settings):
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.upgrade()
    n = seed_demo(store, settings, days=2, now=NOW)
    later = NOW + timedelta(hours=8, minutes=41)
    lis = listener(settings, lambda: later)
    total_new = 0
    for q in lis.queries(settings.entities()):
        cursor = store.get_cursor("demo", q.key)
        pages = list(lis.poll(q, cursor))
        assert pages[-1].done and not any(p.done for p in pages[:-1])
        assert len(pages) == 2  # 8h41m of data in ~6h pages
        assert pages[-1].cursor["until"] == later.isoformat()
        from earful.pipeline import Pipeline

        pipe = Pipeline(settings)
        for p in pages:
            assert all(m.raw["entity"] == q.entity for m in p.mentions)
            assert all(NOW <= m.created_at < later for m in p.mentions)
            kept, _ = pipe.enrich_all(p.mentions)
            res = store.save_page("demo", q.key, kept, p.cursor, now=later)
            assert res.duplicates == 0
            total_new += res.inserted
    assert total_new > 100
    assert store.count_mentions() == n + total_new
    # polling again at the same instant yields nothing new
    for q in lis.queries(settings.entities()):
        pages = list(lis.poll(q, store.get_cursor("demo", q.key)))
        assert sum(len(p.mentions) for p in pages) == 0 and pages[-1].done


def test_listener_posts_are_now_ish_and_match_the_stream(settings):
    lis = listener(settings, lambda: NOW)
    q = next(q for q in lis.queries(settings.entities()) if q.entity == "Globex")
    cursor = {"until": (NOW - timedelta(minutes=50)).isoformat()}
    got = [m for p in lis.poll(q, cursor) for m in p.mentions]
    expected = [
        m
        for m in generate(settings, NOW - timedelta(minutes=50), NOW)
        if m.raw["entity"] == "Globex"
    ]
    assert [key(m) for m in got] == [key(m) for m in expected]
    assert got and all(m.created_at < NOW for m in got)


def test_listener_first_poll_is_capped_to_two_days(settings):
    lis = listener(settings, lambda: NOW)  # backfill 7d in config
    q = lis.queries(settings.entities())[0]
    pages = list(lis.poll(q, None))
    assert len(pages) == 8
    first = min(m.created_at for p in pages for m in p.mentions)
    assert first >= NOW - timedelta(days=2)


def test_listener_options_rate_and_unknown_keys(settings):
    fast = listener(settings, lambda: NOW, rate=3.0)
    slow = listener(settings, lambda: NOW)
    q = fast.queries(settings.entities())[0]
    cursor = {"until": (NOW - timedelta(hours=12)).isoformat()}
    n_fast = sum(len(p.mentions) for p in fast.poll(q, cursor))
    n_slow = sum(len(p.mentions) for p in slow.poll(q, cursor))
    assert n_fast > 2 * n_slow
    with pytest.raises(Exception, match="bogus"):
        make_settings(sources=[{"platform": "demo", "bogus": 1}])
    assert DemoListener.needs_network is False and "demo" in DemoListener.sees.lower()

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


# -- the simulated support team ------------------------------------------------------
def _rows(store, table, order):
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*order))]


def _snapshot(store):
    from earful.schema import audit_log, queue_items, queue_notes, replies

    return (
        _rows(store, queue_items, [queue_items.c.mention_id]),
        _rows(store, audit_log, [audit_log.c.id]),
        _rows(store, replies, [replies.c.id]),
        _rows(store, queue_notes, [queue_notes.c.id]),
    )


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    """Three days seeded with a two-person team in the config."""
    s = make_settings(dashboard={"team": ["Ada", "Grace"]})
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('support')}/t.db")
    store.upgrade()
    seed_demo(store, s, days=3, now=NOW)
    return store, s


def test_seeded_queue_looks_worked_old_items_closed_with_replies(worked):
    from earful.demo_support import RECENT

    store, _ = worked
    items, _audits, replies, _notes = _snapshot(store)
    old = [i for i in items if i["waiting_since"] < NOW - timedelta(hours=12)]
    assert len(old) > 500
    closed = [i for i in old if i["status"] in ("resolved", "dismissed")]
    assert len(closed) > 0.9 * len(old)
    resolved = [i for i in old if i["status"] == "resolved"]
    assert len(resolved) > 0.5 * len(old)
    assert len([i for i in old if i["status"] == "dismissed"]) > 0.05 * len(old)
    for i in resolved:
        assert i["waiting_since"] < i["first_reply_at"] <= i["resolved_at"] <= NOW
        assert i["assignee"] in ("Ada", "Grace") and i["updated_by"] in ("Ada", "Grace")
        assert i["version"] >= 4  # assign, replied, resolved (+ snooze and wake)
    assert {i["assignee"] for i in items} == {None, "Ada", "Grace"}
    # every first reply is a stored manual reply with a URL on the post's platform
    by_mention = {r["mention_id"]: r for r in replies}
    replied = [i for i in items if i["first_reply_at"] is not None]
    assert len(by_mention) == len(replies) == len(replied)
    for i in replied:
        r = by_mention[i["mention_id"]]
        assert r["status"] == "manual" and r["reply_url"].startswith("https://")
        assert r["created_at"] == i["first_reply_at"] and r["actor"] == i["assignee"]
        assert r["text"]
    # the newest items are live work: untouched, open, clocks running
    recent = [i for i in items if i["waiting_since"] >= NOW - RECENT]
    assert len(recent) > 10
    assert all(i["status"] == "open" and i["version"] == 1 for i in recent)
    assert all(i["assignee"] is None and i["first_reply_at"] is None for i in recent)


def test_seeded_queue_has_realistic_response_times_and_a_few_breaches(worked):
    from earful import queue, trends

    store, s = worked
    items = _snapshot(store)[0]
    replied = [i for i in items if i["first_reply_at"] is not None]
    late = [i for i in replied if i["first_reply_at"] > i["sla_due_at"]]
    assert 0 < len(late) < 0.25 * len(replied)
    urgent = sorted(
        (i["first_reply_at"] - i["waiting_since"]).total_seconds()
        for i in replied
        if i["band"] == "urgent"
    )
    normal = sorted(
        (i["first_reply_at"] - i["waiting_since"]).total_seconds()
        for i in replied
        if i["band"] == "normal"
    )
    assert urgent and normal and urgent[len(urgent) // 2] < normal[len(normal) // 2]
    median = trends.median_first_response(store, NOW - timedelta(days=3), NOW)
    assert median is not None and 5 * 60 < median < 12 * 3600
    waiting = queue.list_queue(store, statuses=("open",), limit=100_000, now=NOW, settings=s)
    assert 10 < len(waiting) < 0.1 * len(items)
    breached = [i for i in waiting if i["sla_breached"]]
    assert 0 < len(breached) < len(waiting)
    assert trends.open_complaints(store) < 0.1 * sum(1 for _ in items)


def test_simulated_actions_are_audited_like_the_queue_api(worked):
    from earful.queue import audit_for, notes_for

    store, _ = worked
    items, audits, replies, notes = _snapshot(store)
    resolved = next(i for i in items if i["status"] == "resolved" and i["version"] == 4)
    trail = audit_for(store, resolved["mention_id"])
    assert [a["action"] for a in trail] == [
        "enqueue",
        "assign",
        "reply_manual",
        "replied",
        "status",
    ]
    assert [a["at"] for a in trail] == sorted(a["at"] for a in trail)
    assert trail[0]["actor"] == "earful" and trail[0]["at"] < trail[1]["at"]
    assert all(a["actor"] in ("Ada", "Grace") for a in trail[1:])
    assert trail[1]["before"]["version"] == 1 and trail[1]["after"]["version"] == 2
    assert trail[2]["after"]["reply_id"] in {r["id"] for r in replies}
    assert trail[3]["after"]["status"] == "pending" and trail[3]["after"]["version"] == 3
    assert trail[4]["before"]["status"] == "pending" and trail[4]["after"]["status"] == "resolved"
    # one audit row per versioned change, plus reply and note rows
    actions = Counter(a["action"] for a in audits)
    versioned = sum(i["version"] - 1 for i in items)
    assert actions["assign"] + actions["replied"] + actions["status"] + actions["wake"] == versioned
    assert actions["reply_manual"] == len(replies) and actions["note"] == len(notes) > 0
    assert actions["wake"] > 0 and actions["enqueue"] == len(items)
    noted = notes[0]["mention_id"]
    assert notes_for(store, noted)[0]["author"] in ("Ada", "Grace")
    # enqueue rows say when the post was queued (fetched), not when the seed ran
    assert all(i["created_at"] < NOW - timedelta(seconds=30) for i in items[:50])


def test_second_seed_changes_nothing_and_the_team_falls_back(tmp_path):
    s = make_settings()  # no team configured
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.upgrade()
    seed_demo(store, s, days=2, now=NOW)
    before = _snapshot(store)
    assert seed_demo(store, s, days=2, now=NOW) == 0
    assert _snapshot(store) == before
    from earful.demo_support import FALLBACK_TEAM

    assert {i["assignee"] for i in before[0]} - {None} <= set(FALLBACK_TEAM)
    # another database, the same seed: the same history
    other = Store(f"sqlite:///{tmp_path}/u.db")
    other.upgrade()
    seed_demo(other, s, days=2, now=NOW)
    strip = ("mention_id", "id", "reply_id")
    a, b = before[2], _snapshot(other)[2]
    assert [(r["reply_url"], r["text"]) for r in a] == [(r["reply_url"], r["text"]) for r in b]
    assert [{k: v for k, v in i.items() if k not in strip} for i in before[0]] == [
        {k: v for k, v in i.items() if k not in strip} for i in _snapshot(other)[0]
    ]


def test_later_run_continues_plans_but_never_touches_human_or_live_work(tmp_path):
    from earful import queue
    from earful.demo_support import simulate_support
    from earful.models import Mention

    s = make_settings()
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.upgrade()
    seed_demo(store, s, days=1, now=NOW)
    real = Mention(
        platform="hackernews",
        external_id="41000001",
        url="https://news.ycombinator.com/item?id=41000001",
        author="pat",
        text="acme lost my order",
        created_at=NOW - timedelta(days=2),
        matched="Acme",
        compound=-0.6,
        label="negative",
        intent="complaint",
        needs_reply=True,
        priority=60.0,
    )
    (real_id,) = store.save_page("test", "real", [real], None, now=NOW).inserted_ids
    items = {i["mention_id"]: i for i in _snapshot(store)[0]}
    recent = [i for i in items.values() if i["status"] == "open" and i["version"] == 1]
    assert recent and real_id in items
    human = recent[0]["mention_id"]
    queue.assign(store, human, "Zed", actor="Zed", expected_version=1, now=NOW)
    later = NOW + timedelta(days=2)
    stats = simulate_support(store, s, now=later)
    assert stats.items > 0
    after = {i["mention_id"]: i for i in _snapshot(store)[0]}
    assert after[human]["assignee"] == "Zed" and after[human]["version"] == 2
    assert after[real_id]["status"] == "open" and after[real_id]["version"] == 1
    assert after[real_id]["created_at"] == NOW  # not a demo item: not even backdated
    handled = [m for m in (i["mention_id"] for i in recent[1:]) if after[m]["version"] > 1]
    assert len(handled) > 0.8 * (len(recent) - 1)
    # partially handled items (pending at NOW) were carried on, not replayed
    pending = [m for m, i in items.items() if i["status"] == "pending"]
    assert pending
    for m in pending:
        assert after[m]["status"] in ("resolved", "pending")
        assert after[m]["first_reply_at"] == items[m]["first_reply_at"]
    assert simulate_support(store, s, now=later).items == 0


def test_support_simulation_on_each_backend(db_url):
    from earful import trends
    from earful.queue import audit_for

    s = make_settings()
    store = Store(db_url)
    store.upgrade()
    try:
        seed_demo(store, s, days=1, now=NOW)
        before = _snapshot(store)
        items = before[0]
        resolved = [i for i in items if i["status"] == "resolved"]
        assert len(resolved) > 0.25 * len(items)
        assert all(i["first_reply_at"] > i["waiting_since"] for i in resolved)
        trail = audit_for(store, resolved[0]["mention_id"])
        assert trail[0]["action"] == "enqueue" and trail[0]["at"] < NOW
        assert [a["at"] for a in trail] == sorted(a["at"] for a in trail)
        assert trends.median_first_response(store, NOW - timedelta(days=1), NOW) is not None
        assert seed_demo(store, s, days=1, now=NOW) == 0
        assert _snapshot(store) == before
    finally:
        store.engine.dispose()

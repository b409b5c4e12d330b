"""earful.queries on real databases (SQLite file, and PostgreSQL when a server is available)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

from earful import queries as qy
from earful import trends as tr
from earful.models import Mention
from earful.queries import MentionFilter
from earful.schema import alerts, queue_items, rollup_hourly
from earful.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOSTILE = (
    '<img src=x onerror=alert(1)><script>alert("acme")</script> ![pic](http://evil.test/x.png) '
    "[click](javascript:alert(1)) \u202eevil acme"
)

_TEXTS = {
    (
        "Acme",
        "negative",
    ): "acme lost my order again, refund please #acmefail https://status.acme.test/x",
    ("Acme", "positive"): "love the new acme dashboard, great support team #acme",
    ("Acme", "neutral"): "acme is shipping a new release today",
    ("Acme", "unscored"): "acme es muy caro este mes",
    ("Globex", "negative"): "globex outage again today",
    ("Globex", "positive"): "globex support was great",
    ("Initech", "neutral"): "initech announced a conference",
}
_COMPOUND = {"negative": -0.6, "positive": 0.7, "neutral": 0.0, "unscored": None}


def make_mentions(now: datetime = NOW, *, hours: int = 48, demo: bool = False) -> list[Mention]:
    """A small deterministic stream: 7 kinds of posts every hour over `hours`, plus hostile text."""
    out: list[Mention] = []
    platforms = ("mastodon", "bluesky", "reddit")
    for h in range(hours):
        for i, ((entity, label), text) in enumerate(_TEXTS.items()):
            intent = {"negative": "complaint", "positive": "praise"}.get(label, "other")
            out.append(
                Mention(
                    platform=platforms[(h + i) % 3],
                    external_id=f"{h}-{i}",
                    url=f"https://social.test/{h}/{i}",
                    author=f"user{(h * 7 + i) % 23}",
                    author_followers=(h * 7 + i) % 23 * 100,
                    text=text,
                    created_at=now - timedelta(hours=h, minutes=5 + i),
                    lang="es" if label == "unscored" else "en",
                    matched=entity,
                    compound=_COMPOUND[label],
                    label=label,
                    intent=intent,
                    needs_reply=intent == "complaint",
                    priority=50.0 if intent == "complaint" else 0.0,
                    is_demo=demo,
                )
            )
    out.append(
        Mention(
            platform="mastodon",
            external_id="hostile",
            url="javascript:alert(1)",
            author="<b>mallory</b>",
            author_followers=999_999,
            text=HOSTILE + " " + "x" * 100_000,
            created_at=now - timedelta(minutes=1),
            lang="en",
            matched="Acme",
            compound=-0.3,
            label="negative",
            intent="complaint",
            needs_reply=True,
            priority=60.0,
        )
    )
    return out


def seed(store: Store, now: datetime = NOW, **kw) -> int:
    return store.save_page("test", "q", make_mentions(now, **kw), None, now=now).inserted


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'q.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store(url)
    s.upgrade()
    seed(s)
    yield s
    s.engine.dispose()


def test_filter_counts_follow_each_condition(store):
    day = MentionFilter(since=NOW - timedelta(hours=24), until=NOW)
    assert qy.count_mentions(store) == 48 * 7 + 1
    assert qy.distinct_languages(store) == ["en", "es"]
    assert qy.count_mentions(store, day) == 24 * 7 + 1
    assert qy.count_mentions(store, MentionFilter(entities=("Globex",))) == 96
    assert qy.count_mentions(store, MentionFilter(labels=("unscored",))) == 48
    assert qy.count_mentions(store, MentionFilter(langs=("es",))) == 48
    assert qy.count_mentions(store, MentionFilter(intents=("complaint",))) == 96 + 1
    assert qy.count_mentions(store, MentionFilter(platforms=("bluesky",))) == 112
    assert qy.count_mentions(store, MentionFilter(min_followers=2000)) == sum(
        1 for m in make_mentions() if (m.author_followers or 0) >= 2000
    )
    # free text: case-insensitive, every word, LIKE wildcards are literal
    assert qy.count_mentions(store, MentionFilter(search="REFUND")) == 48
    assert qy.count_mentions(store, MentionFilter(search="refund globex")) == 0
    assert qy.count_mentions(store, MentionFilter(search='"new release"')) == 48
    assert qy.count_mentions(store, MentionFilter(search="%")) == 0
    assert qy.count_mentions(store, MentionFilter(search="onerror")) == 1
    counts = qy.label_counts(store, day)
    assert sum(counts.values()) == qy.count_mentions(store, day)
    assert counts["negative"] == 24 * 2 + 1


def test_list_mentions_pages_newest_first_with_preview(store):
    first = qy.list_mentions(store, MentionFilter(), limit=10)
    second = qy.list_mentions(store, MentionFilter(), limit=10, offset=10)
    assert list(first.columns) == list(qy.LIST_COLUMNS)
    assert first.iloc[0]["external_id" if "external_id" in first else "author"] == "<b>mallory</b>"
    times = list(first["created_at"]) + list(second["created_at"])
    assert times == sorted(times, reverse=True)
    assert not set(first["id"]) & set(second["id"])
    assert first["text"].str.len().max() <= qy.TEXT_PREVIEW
    full = qy.get_mention(store, int(first.iloc[0]["id"]))
    assert full is not None and len(full["text"]) > 100_000


def test_top_authors_terms_hashtags_links(store):
    f = MentionFilter(entities=("Acme",))
    authors = qy.top_authors(store, f, limit=3)
    assert list(authors["author"])[0] == "<b>mallory</b>"
    assert authors["followers"].is_monotonic_decreasing
    texts = qy.sample_texts(store, f, limit=50)
    assert len(texts) == 50
    terms = dict(qy.top_terms(texts, exclude=["acme"]))
    assert "acme" not in terms and "the" not in terms
    assert "refund" in terms or "order" in terms
    assert ("#acmefail", 12) in qy.top_hashtags(texts) or qy.top_hashtags(texts)[0][0].startswith(
        "#acme"
    )
    assert qy.top_links(["see https://a.test/x. and https://a.test/x"]) == [("https://a.test/x", 1)]


def test_rollup_totals_match_mentions_and_previous_period(store):
    start, end = NOW - timedelta(hours=24), NOW
    totals = tr.rollup_totals(store, start, end)
    assert int(totals["n"].sum()) == qy.count_mentions(store, MentionFilter(since=start, until=end))
    stats = tr.sentiment_stats(totals, "Acme")
    # Acme per hour: 1 pos, 1 neg, 1 neu, 1 unscored (+1 hostile negative)
    assert stats["mentions"] == 24 * 4 + 1
    assert stats["net"] == pytest.approx((24 - 25) / (24 * 3 + 1))
    assert stats["negative_share"] == pytest.approx(25 / 73)
    assert tr.share_of_voice(totals, "Acme") == pytest.approx(97 / (24 * 7 + 1))
    assert tr.sentiment_stats(tr.rollup_totals(store, end, end + timedelta(days=1)))["net"] is None


@pytest.mark.parametrize("hourly", [True, False])
def test_rollup_series_buckets_in_display_timezone(store, hourly):
    tz = ZoneInfo("America/New_York")
    start, end = NOW - timedelta(hours=48), NOW
    s = tr.rollup_series(store, start, end, tz=tz, hourly=hourly)
    assert int(s["n"].sum()) == qy.count_mentions(store, MentionFilter(since=start, until=end))
    assert str(s["bucket"].dt.tz) == "America/New_York"
    if hourly:
        assert s["bucket"].nunique() == 48
    else:
        assert (s["bucket"].dt.hour == 0).all()
        # 48 hours ending 07:00 local touch three local days
        assert s["bucket"].nunique() == 3


def test_day_buckets_cut_at_local_midnight_across_dst(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'dst.db'}")
    s.upgrade()
    tz = ZoneInfo("Europe/Paris")  # DST ends 2026-10-25 03:00 local
    base = datetime(2026, 10, 24, 0, 30, tzinfo=tz)
    ms = [
        Mention(
            platform="p",
            external_id=str(i),
            url="",
            author="a",
            text="acme",
            created_at=base.astimezone(UTC) + timedelta(hours=i),
            matched="Acme",
            compound=0.0,
            label="neutral",
        )
        for i in range(72)
    ]
    s.save_page("t", "q", ms, None, now=NOW)
    series = tr.rollup_series(
        s,
        ms[0].created_at - timedelta(hours=1),
        ms[-1].created_at + timedelta(hours=1),
        tz=tz,
        hourly=False,
    )
    by_day = series.groupby(series["bucket"].dt.strftime("%Y-%m-%d"))["n"].sum().to_dict()
    # wall clock 00:30 Oct 24 + 72 real hours, with the extra hour on Oct 25
    assert by_day == {"2026-10-24": 24, "2026-10-25": 25, "2026-10-26": 23}


def test_queue_kpis(store):
    assert tr.open_complaints(store) == 96 + 1
    assert tr.new_complaints(store, NOW - timedelta(hours=24), NOW) == 48 + 1
    assert tr.median_first_response(store, NOW - timedelta(days=1), NOW) is None
    with store.write() as conn:
        ids = list(
            conn.scalars(
                sa.select(queue_items.c.mention_id).order_by(queue_items.c.mention_id).limit(3)
            )
        )
        for mid, minutes in zip(ids, (10, 30, 90), strict=True):
            ws = conn.scalar(
                sa.select(queue_items.c.waiting_since).where(queue_items.c.mention_id == mid)
            )
            conn.execute(
                queue_items.update()
                .where(queue_items.c.mention_id == mid)
                .values(first_reply_at=ws + timedelta(minutes=minutes), status="resolved")
            )
    frt = tr.median_first_response(store, NOW - timedelta(days=5), NOW + timedelta(days=1))
    assert frt == pytest.approx(30 * 60, abs=1)
    assert tr.open_complaints(store) == 96 + 1 - 3


def test_spikes_from_alerts_and_computed(store):
    with store.write() as conn:
        conn.execute(
            alerts.insert().values(
                kind="volume_spike",
                subject="Acme",
                dedupe_key="k1",
                window_start=NOW - timedelta(hours=3),
                window_end=NOW - timedelta(hours=2),
                created_at=NOW,
                summary="4x the usual volume",
                details={"top_terms": [["refund", 9], ["order", 5]], "platforms": {"mastodon": 7}},
            )
        )
    found = tr.alert_spikes(store, NOW - timedelta(days=1), NOW)
    assert len(found) == 1
    assert found[0].terms == ("refund (9)", "order (5)")
    assert found[0].platforms == ("mastodon (7)",)
    assert tr.alert_spikes(store, NOW - timedelta(days=9), NOW - timedelta(days=8)) == []

    idx = pd.date_range("2026-11-01", periods=20, freq="D", tz="UTC")
    n = [20, 22, 19, 21, 20, 18, 22, 20, 21, 19, 90, 20, 21, 19, 20, 22, 21, 20, 19, 20]
    series = pd.DataFrame(
        {"bucket": idx, "matched": "Acme", "platform": "x", "label": "neutral", "n": n}
    )
    spikes = tr.computed_spikes(series, "Acme", window=7)
    assert [(ts.day, c) for ts, c, _ in spikes] == [(11, 90)]
    assert tr.computed_spikes(series.assign(n=20), "Acme", window=7) == []
    # an outage over three hours is one spike, marked at its biggest hour
    hours = pd.date_range("2026-11-01", periods=48, freq="h", tz="UTC")
    counts = [20 + (i % 3) for i in range(48)]
    counts[30:33] = [100, 130, 110]
    hourly = pd.DataFrame({"bucket": hours, "matched": "Acme", "label": "neutral", "n": counts})
    spikes = tr.computed_spikes(hourly, "Acme", window=24)
    assert [(ts.hour, c) for ts, c, _ in spikes] == [(7, 130)]


def test_has_demo_and_failing_sources(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'd.db'}")
    s.upgrade()
    assert not qy.has_demo(s)
    seed(s, hours=1, demo=True)
    assert qy.has_demo(s)
    assert qy.failing_sources(s) == []
    assert qy.known_platforms(s) == ["bluesky", "mastodon", "reddit"]
    assert tr.platform_counts(s, NOW - timedelta(hours=1), NOW, "Acme")[0] == "mastodon (3)"
    assert qy.distinct_languages(s) == ["en", "es"]


def test_rollup_is_what_overview_reads(store):
    """The overview's totals are rollup rows; deleting the rollup empties them (no mention scan)."""
    with store.write() as conn:
        conn.execute(rollup_hourly.delete())
    assert tr.rollup_totals(store, NOW - timedelta(days=3), NOW).empty


@pytest.mark.parametrize(
    "f",
    [
        MentionFilter(since=NOW - timedelta(hours=30), until=NOW, platforms=("reddit", "x")),
        MentionFilter(entities=("Acme",), labels=("negative", "positive")),
        MentionFilter(since=NOW - timedelta(hours=5)),
    ],
)
def test_rollup_counts_equal_mention_counts(store, f):
    assert qy.rollup_answers(f)
    assert sum(qy.label_counts(store, f).values()) == qy.count_mentions(store, f)


def test_rollup_not_used_when_it_cannot_answer():
    assert not qy.rollup_answers(MentionFilter(since=NOW - timedelta(minutes=30)))
    assert not qy.rollup_answers(MentionFilter(search="refund"))
    assert not qy.rollup_answers(MentionFilter(min_followers=10))


def test_coarse_rollups_follow_the_hourly_rollup(store):
    """Triggers keep rollup_entity_hourly and rollup_daily equal to rollup_hourly."""
    from earful.schema import rollup_daily, rollup_entity_hourly
    from earful.store import rebuild_rollup

    def sums():
        with store.read() as conn:
            return [
                conn.scalar(sa.select(sa.func.sum(t.c.n)))
                for t in (rollup_hourly, rollup_entity_hourly, rollup_daily)
            ]

    assert sums() == [48 * 7 + 1] * 3
    more = [dataclasses.replace(x, external_id="b" + x.external_id) for x in make_mentions(hours=5)]
    store.save_page("test", "q2", more, None, now=NOW)  # same hours: rollup rows are updated
    total = qy.count_mentions(store)
    assert total == 48 * 7 + 1 + 5 * 7 + 1
    assert sums() == [total] * 3
    rebuild_rollup(store)
    assert sums() == [total] * 3
    # ragged edges: 40 hours = hourly rows at both ends + whole UTC days in between
    start, end = NOW - timedelta(hours=40), NOW + timedelta(hours=2)
    f = MentionFilter(since=start, until=end)
    assert int(tr.rollup_totals(store, start, end)["n"].sum()) == qy.count_mentions(store, f)
    assert sum(qy.label_counts(store, f).values()) == qy.count_mentions(store, f)


def test_sqlite_search_index_follows_inserts_and_deletes(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'fts.db'}")
    s.upgrade()
    seed(s, hours=2)
    f = MentionFilter(search="refund")
    assert qy.count_mentions(s, f) == 2
    with s.read() as conn:  # the search really goes through the FTS index
        plan = " ".join(
            str(r[-1])
            for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM mentions WHERE id IN "
                "(SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH '\"refund\"*')"
            )
        )
    assert "mentions_fts" in plan
    neutral = make_mentions(hours=1)[2]  # needs no reply: no queue row to keep it
    extra = dataclasses.replace(neutral, external_id="new", text="acme refund now")
    s.save_page("t", "q2", [extra], None, now=NOW)
    assert qy.count_mentions(s, f) == 3
    assert qy.count_mentions(s, MentionFilter(search="REFUN")) == 3  # word prefixes
    with s.write() as conn:
        conn.exec_driver_sql("DELETE FROM mentions WHERE external_id = 'new'")
    assert qy.count_mentions(s, f) == 2

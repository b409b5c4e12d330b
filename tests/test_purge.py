"""Purging posts deleted at their source: the mention and everything derived from it goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from test_store import mk

from earful import queue, replies
from earful.purge import purge_mentions
from earful.schema import (
    alerts,
    audit_log,
    mentions,
    queue_items,
    queue_notes,
    replied_purged,
    rollup_daily,
    rollup_entity_hourly,
    rollup_hourly,
)
from earful.schema import replies as replies_table
from earful.store import Store, rebuild_rollup

T0 = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


def _rollups(store: Store) -> dict[str, set[tuple]]:
    """Every rollup table's rows (compound sums rounded: they are float sums)."""
    out = {}
    with store.read() as c:
        for t in (rollup_hourly, rollup_entity_hourly, rollup_daily):
            out[t.name] = {
                tuple(round(v, 6) if isinstance(v, float) else v for v in r)
                for r in c.execute(sa.select(t))
            }
    return out


def _seed(store: Store) -> dict[str, int]:
    """Ten mentions over three hours (one alone in its hour), all in the reply queue."""
    batch = [
        mk(
            i,
            label="negative" if i % 2 else "neutral",
            compound=-0.5 if i % 2 else 0.0,
            at=T0 + timedelta(minutes=25 * i),
            needs_reply=True,
            priority=0.5,
            thread_id=f"thread-{i}",
            text=f"acme lost my parcel {i} zebra{i}",
        )
        for i in range(10)
    ]
    store.save_page("mastodon", "Acme", batch, None, now=T0 + timedelta(hours=6))
    with store.read() as c:
        return {
            r.external_id: int(r.id)
            for r in c.execute(sa.select(mentions.c.id, mentions.c.external_id))
        }


def test_purge_removes_the_post_and_all_it_fed(any_store):
    ids = _seed(any_store)
    gone = [mk(i).external_id for i in (0, 5, 9)]
    gone_ids = {ids[x] for x in gone}
    kept = next(i for x, i in ids.items() if x not in gone)
    queue.add_note(any_store, ids[gone[0]], "called them back", actor="sam", now=T0)
    queue.add_note(any_store, kept, "waiting on courier", actor="sam", now=T0)
    replies.record_manual_reply(
        any_store, ids[gone[1]], "https://example.social/@acme/1", actor="sam", now=T0
    )
    with any_store.write() as c:
        c.execute(
            alerts.insert().values(
                kind="negative_spike",
                subject="Acme",
                dedupe_key="neg:acme:1",
                window_start=T0,
                window_end=T0 + timedelta(hours=4),
                created_at=T0 + timedelta(hours=4),
                summary="Negative posts about Acme rose",
                details={
                    "top_terms": [["parcel", 3]],
                    "examples": [
                        {"mention_id": ids[gone[0]], "text": "acme lost my parcel 0"},
                        {"mention_id": kept, "text": "kept"},
                    ],
                },
            )
        )

    with any_store.write() as c:
        # two unknown ids and a repeat: only stored posts count
        n = purge_mentions(c, "mastodon", [*gone, gone[0], "nope", ""], now=NOW, why="deleted")
    assert n == 3

    with any_store.read() as c:
        left = set(c.scalars(sa.select(mentions.c.external_id)))
        assert left == set(ids) - set(gone)
        for table in (queue_items, queue_notes, replies_table):
            mids = set(c.scalars(sa.select(table.c.mention_id)))
            assert not mids & gone_ids, table.name
        assert kept in set(c.scalars(sa.select(queue_notes.c.mention_id)))
        audit = c.execute(
            sa.select(audit_log.c.mention_id, audit_log.c.after).where(
                audit_log.c.action == "purge"
            )
        ).all()
        assert {a.mention_id for a in audit} == gone_ids
        assert all(a.after == {"why": "deleted"} for a in audit)
        # the post we had answered by hand is remembered by its id alone
        remembered = c.execute(sa.select(replied_purged)).all()
        assert [(r.platform, r.external_id, r.replies) for r in remembered] == [
            ("mastodon", gone[1], 1)
        ]
        details = c.scalar(sa.select(alerts.c.details))
        assert [e["mention_id"] for e in details["examples"]] == [kept]
        assert details["top_terms"] == [["parcel", 3]]
        for t in (rollup_hourly, rollup_entity_hourly, rollup_daily):
            assert not c.scalar(sa.select(sa.func.count()).where(t.c.n <= 0)), t.name
        total = c.scalar(sa.select(sa.func.sum(rollup_daily.c.n)))
        assert total == 7

    # The rollups kept incrementally equal a rebuild from the mentions left
    # (mention 9 was alone in its hour: that hour is gone everywhere).
    incremental = _rollups(any_store)
    rebuild_rollup(any_store)
    assert incremental == _rollups(any_store)

    with any_store.write() as c:
        assert purge_mentions(c, "mastodon", gone, now=NOW) == 0
        # another platform's post with the same id is not touched
        assert purge_mentions(c, "reddit", [mk(1).external_id], now=NOW) == 0
    assert any_store.count_mentions() == 7


def test_sqlite_full_text_index_forgets_purged_text(sqlite_store):
    ids = _seed(sqlite_store)
    with sqlite_store.write() as c:
        purge_mentions(c, "mastodon", [mk(3).external_id], now=NOW)
    with sqlite_store.read() as c:
        c.exec_driver_sql("INSERT INTO mentions_fts(mentions_fts) VALUES ('integrity-check')")
        hits = c.exec_driver_sql(
            "SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH 'zebra3 OR zebra4'"
        ).all()
    assert [r[0] for r in hits] == [ids[mk(4).external_id]]


def test_purging_many_posts_spans_chunks(any_store):
    batch = [mk(i, at=T0 + timedelta(seconds=i)) for i in range(1200)]
    any_store.save_page("mastodon", "Acme", batch, None)
    with any_store.write() as c:
        n = purge_mentions(c, "mastodon", [m.external_id for m in batch[:1100]], now=NOW)
    assert n == 1100
    assert any_store.count_mentions() == 100
    with any_store.read() as c:
        assert c.scalar(sa.select(sa.func.sum(rollup_hourly.c.n))) == 100

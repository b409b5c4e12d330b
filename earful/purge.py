"""Purging mentions whose post was deleted or removed at its source.

Reddit's data terms say deleted content must not be kept or shown; Lemmy
flags deleted and removed items; a Mastodon status that is gone answers 404.
When a listener learns that a post it stored is gone (`Page.gone`), the
poller calls `purge_mentions` in the transaction that stores the page, so the
purge and the cursor move together like every other write.

A purge removes the post's content and everything derived from it: the
mention row (and its full-text row, by trigger), its share of the rollups
(the coarse rollups follow by trigger), its reply-queue item with its notes
and reply records, and the example posts alerts quote. What stays is the
audit trail of the queue item, without content, plus one `purge` row saying
when and why. Later posts of the same conversation stay; a new one opens a
new item. A post we had replied to is remembered by its id alone in
`replied_purged`: if its removal is reversed and it is stored again, the send
path refuses a second reply (a reply is never sent twice).

The cut is here because purging crosses the store, the queue and alerts, and
none of them should import the others to do it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.models import as_utc
from earful.queue_rules import SYSTEM_ACTOR, _audit, _snap
from earful.schema import (
    alerts,
    audit_log,
    mentions,
    queue_items,
    queue_notes,
    replied_purged,
    replies,
    rollup_daily,
    rollup_entity_hourly,
    rollup_hourly,
)

# ids per IN (...) list: far below every dialect's bound-parameter limit
_CHUNK = 500


def _hour(dt: datetime) -> datetime:
    return as_utc(dt).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def purge_mentions(
    conn: Connection,
    platform: str,
    external_ids: Iterable[str],
    *,
    now: datetime,
    why: str = "deleted or removed at the source",
) -> int:
    """Remove the stored mentions among `external_ids` of `platform`; how many were stored."""
    wanted = sorted({str(x) for x in external_ids if x})
    m = mentions.c
    rows: list[Any] = []
    for i in range(0, len(wanted), _CHUNK):
        rows += conn.execute(
            sa.select(m.id, m.external_id, m.created_at, m.matched, m.label, m.compound).where(
                m.platform == platform, m.external_id.in_(wanted[i : i + _CHUNK])
            )
        ).all()
    if not rows:
        return 0
    ids = [int(r.id) for r in rows]
    _remember_replied(conn, platform, {int(r.id): str(r.external_id) for r in rows}, now)
    _unroll(conn, platform, rows)
    _drop_queue(conn, ids, now, why)
    _scrub_alerts(conn, set(ids), min(as_utc(r.created_at) for r in rows))
    for i in range(0, len(ids), _CHUNK):
        conn.execute(mentions.delete().where(m.id.in_(ids[i : i + _CHUNK])))
    return len(ids)


def _remember_replied(conn: Connection, platform: str, ext: dict[int, str], now: datetime) -> None:
    """Keep the ids of purged posts that have reply records (any but `failed`)."""
    counts: dict[int, int] = {}
    ids = list(ext)
    for i in range(0, len(ids), _CHUNK):
        for mid, n in conn.execute(
            sa.select(replies.c.mention_id, sa.func.count())
            .where(replies.c.mention_id.in_(ids[i : i + _CHUNK]), replies.c.status != "failed")
            .group_by(replies.c.mention_id)
        ):
            counts[int(mid)] = int(n)
    if not counts:
        return
    rp = replied_purged.c
    known = set(
        conn.scalars(
            sa.select(rp.external_id).where(
                rp.platform == platform, rp.external_id.in_([ext[i] for i in counts])
            )
        )
    )
    rows = [
        {"platform": platform, "external_id": ext[i], "purged_at": now, "replies": n}
        for i, n in counts.items()
        if ext[i] not in known
    ]
    if rows:
        conn.execute(replied_purged.insert(), rows)


def _unroll(conn: Connection, platform: str, rows: list[Any]) -> None:
    """Take the rows out of rollup_hourly (triggers carry it to the coarse rollups)."""
    agg: dict[tuple[datetime, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for r in rows:
        a = agg[(_hour(r.created_at), r.matched or "", r.label or "unscored")]
        a[0] += 1
        a[1] += r.compound or 0.0
    rh = rollup_hourly.c
    key = (
        (rh.hour == sa.bindparam("k_hour", type_=rh.hour.type))
        & (rh.matched == sa.bindparam("k_matched"))
        & (rh.platform == platform)
        & (rh.label == sa.bindparam("k_label"))
    )
    params = [
        {"k_hour": h, "k_matched": e, "k_label": lab, "v_n": int(v[0]), "v_sum": v[1]}
        for (h, e, lab), v in sorted(agg.items())
    ]
    conn.execute(
        rollup_hourly.update()
        .where(key)
        .values(
            n=rh.n - sa.bindparam("v_n", type_=sa.Integer),
            compound_sum=rh.compound_sum - sa.bindparam("v_sum", type_=sa.Float),
        ),
        params,
    )
    # An hour left with no mention goes, in the coarse rollups too (a zero row
    # would chart as a bucket with no average).
    conn.execute(rollup_hourly.delete().where(key & (rh.n <= 0)), params)
    hours = sorted({h for h, _, _ in agg})
    days = sorted({h.replace(hour=0) for h in hours})
    eh, dy = rollup_entity_hourly.c, rollup_daily.c
    conn.execute(rollup_entity_hourly.delete().where(eh.hour.in_(hours), eh.n <= 0))
    conn.execute(rollup_daily.delete().where(dy.day.in_(days), dy.n <= 0))


def _drop_queue(conn: Connection, ids: list[int], now: datetime, why: str) -> None:
    """Delete the mentions' queue items, notes and reply records; audit each item's purge."""
    q = queue_items.c
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        items = conn.execute(sa.select(queue_items).where(q.mention_id.in_(chunk))).mappings()
        audits = [
            _audit(now, SYSTEM_ACTOR, int(it["mention_id"]), "purge", _snap(dict(it)), {"why": why})
            for it in items
        ]
        if audits:
            conn.execute(audit_log.insert(), audits)
        conn.execute(queue_notes.delete().where(queue_notes.c.mention_id.in_(chunk)))
        conn.execute(replies.delete().where(replies.c.mention_id.in_(chunk)))
        conn.execute(queue_items.delete().where(q.mention_id.in_(chunk)))


def _scrub_alerts(conn: Connection, ids: set[int], oldest: datetime) -> None:
    """Drop the purged posts from the examples of alerts whose window could have quoted them."""
    a = alerts.c
    for row in conn.execute(
        sa.select(a.id, a.details).where(a.window_end >= oldest, a.details.is_not(None))
    ):
        details = row.details
        examples = details.get("examples") if isinstance(details, dict) else None
        if not isinstance(details, dict) or not isinstance(examples, list):
            continue
        kept = [ex for ex in examples if not (isinstance(ex, dict) and ex.get("mention_id") in ids)]
        if len(kept) != len(examples):
            conn.execute(
                alerts.update().where(a.id == row.id).values(details={**details, "examples": kept})
            )

"""The hourly rollup: kept current by every insert, rebuilt from the mentions on demand.

Part of `earful.store`. `add_to_rollup` adds the mentions an insert really
wrote to `rollup_hourly` in the caller's transaction (one upsert per hour,
entity, platform and label; on SQLite the hour is cut from the timestamp's
stored text, one driver executemany). `rebuild_rollup` is the repair tool
that recomputes it from `mentions`. `hour_of` is the UTC hour both use.

The cut is here because the rollup is its own table with its own rule
(n and compound_sum per hour bucket), written on two paths that must agree;
`Store` only calls `add_to_rollup` after an insert, with itself passed in
for its dialect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.models import Mention
from earful.schema import mentions, rollup_hourly, sqlite_utc_text

if TYPE_CHECKING:
    from earful.store import Store

# An hour as UTCDateTime stores it on SQLite: "YYYY-MM-DD HH" + this.
_SQLITE_HOUR_TAIL = ":00:00.000000"
_SQLITE_ROLLUP = (
    "INSERT INTO rollup_hourly (hour, matched, platform, label, n, compound_sum)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hour, matched, platform, label) DO UPDATE"
    " SET n = rollup_hourly.n + excluded.n,"
    " compound_sum = rollup_hourly.compound_sum + excluded.compound_sum"
)


def hour_of(dt: datetime) -> datetime:
    """The UTC hour a time falls in (an aware time in another zone is converted first:
    14:45+05:30 is in the 09:00 UTC hour, not at 08:30 UTC)."""
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.replace(minute=0, second=0, microsecond=0)


def add_to_rollup(conn: Connection, store: Store, new: Sequence[Mention]) -> None:
    """Add newly inserted mentions to `rollup_hourly`, in the caller's transaction."""
    if store.dialect == "sqlite":
        _add_to_sqlite_rollup(conn, new)
        return
    agg: dict[tuple[datetime, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for m in new:
        a = agg[(hour_of(m.created_at), m.matched or "", m.platform, m.label or "unscored")]
        a[0] += 1
        a[1] += m.compound or 0.0
    ins = store.insert(rollup_hourly)
    stmt = ins.on_conflict_do_update(
        index_elements=["hour", "matched", "platform", "label"],
        set_={
            "n": rollup_hourly.c.n + ins.excluded.n,
            "compound_sum": rollup_hourly.c.compound_sum + ins.excluded.compound_sum,
        },
    )
    conn.execute(
        stmt,
        [
            {
                "hour": h,
                "matched": e,
                "platform": p,
                "label": lab,
                "n": int(v[0]),
                "compound_sum": v[1],
            }
            for (h, e, p, lab), v in sorted(agg.items())
        ],
    )


def _add_to_sqlite_rollup(conn: Connection, new: Sequence[Mention]) -> None:
    """`add_to_rollup` on SQLite: hours keyed by their stored text (a slice of the
    timestamp's text, no datetime arithmetic), one driver executemany."""
    agg: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for m in new:
        text = sqlite_utc_text(m.created_at) or ""
        a = agg[(text[:13] + _SQLITE_HOUR_TAIL, m.matched or "", m.platform, m.label or "unscored")]
        a[0] += 1
        a[1] += m.compound or 0.0
    conn.exec_driver_sql(_SQLITE_ROLLUP, [(*k, int(v[0]), v[1]) for k, v in sorted(agg.items())])


def rebuild_rollup(store: Store, *, since: datetime | None = None) -> int:
    """Recompute the rollup from mentions (repair tool; normal writes keep it current)."""
    h = mentions.c.created_at
    with store.write() as conn:
        q = rollup_hourly.delete()
        if since is not None:
            q = q.where(rollup_hourly.c.hour >= hour_of(since))
        conn.execute(q)
        sel = sa.select(
            mentions.c.created_at,
            mentions.c.matched,
            mentions.c.platform,
            mentions.c.label,
            mentions.c.compound,
        )
        if since is not None:
            sel = sel.where(h >= hour_of(since))
        agg: dict[tuple[datetime, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for r in conn.execute(sel):
            a = agg[(hour_of(r.created_at), r.matched, r.platform, r.label)]
            a[0] += 1
            a[1] += r.compound or 0.0
        if agg:
            conn.execute(
                rollup_hourly.insert(),
                [
                    {
                        "hour": k[0],
                        "matched": k[1],
                        "platform": k[2],
                        "label": k[3],
                        "n": int(v[0]),
                        "compound_sum": v[1],
                    }
                    for k, v in agg.items()
                ],
            )
        return len(agg)

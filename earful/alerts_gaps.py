"""Gap alerts: a source gone silent for far longer than usual.

A source whose mentions over the baseline came often enough (at least
`min_mentions`) and that has yielded nothing for longer than five times its
usual spacing, half again its longest silence of the baseline (quiet nights),
three poll intervals and an hour raises one alert per silence (the dedupe key
holds the time of its last mention). The summary says whether the source's
polls are failing, from its health row.

The cut is here because a gap is about a source (its stored mentions' times
and its `source_health` row), not about an entity's hourly counts as spikes
are; `earful.alerts.detect` calls `_gaps` with a connection and stores what it
returns alongside the spikes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import Settings
from earful.models import as_utc
from earful.schema import mentions, source_health

HOUR = timedelta(hours=1)  # no silence under an hour is a gap (same value as earful.alerts.HOUR)
GAP_FACTOR = 5.0


def _gaps(conn: Connection, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    cfg = settings.alerts
    since = now - cfg.baseline
    m = mentions.c
    configured = {s.key: s for s in settings.sources}
    rows = conn.execute(
        sa.select(m.source, sa.func.count(), sa.func.min(m.created_at), sa.func.max(m.created_at))
        .where(m.created_at >= since, m.source.is_not(None))
        .group_by(m.source)
    ).all()
    health = {r.source: r for r in conn.execute(sa.select(source_health))}
    out: list[dict[str, Any]] = []
    for source, n, first, last in rows:
        src = configured.get(source)
        if configured and (src is None or not src.enabled):
            continue  # removed or disabled on purpose: silence is expected
        if n < cfg.min_mentions:
            continue
        first, last = as_utc(first), as_utc(last)
        spacing = max((last - first) / max(n - 1, 1), timedelta(minutes=1))
        every = src.every if src is not None else timedelta(0)
        if now - last <= max(spacing * GAP_FACTOR, every * 3, HOUR):
            continue
        # Quiet nights are normal: allow half again the longest silence of the baseline.
        longest = _longest_silence(conn, source, since)
        allowed = max(spacing * GAP_FACTOR, longest * 1.5, every * 3, HOUR)
        silent = now - last
        if silent <= allowed:
            continue
        h = health.get(source)
        state = ""
        if (
            h is not None
            and h.last_error
            and (h.last_success is None or as_utc(h.last_error_at or now) >= as_utc(h.last_success))
        ):
            state = f"; failing: {str(h.last_error)[:200]}"
        elif h is not None and h.last_success is not None:
            state = f"; last successful poll {as_utc(h.last_success):%Y-%m-%d %H:%M} UTC"
        out.append(
            {
                "kind": "gap",
                "subject": source,
                "dedupe_key": f"gap:{source}:{last.isoformat()}",
                "window_start": last,
                "window_end": now,
                "created_at": now,
                "value": silent.total_seconds(),
                "baseline": spacing.total_seconds(),
                "summary": (
                    f"{source} has yielded no mentions for {_dur(silent)} "
                    f"(usually one every {_dur(spacing)}; {n} in the last {_dur(cfg.baseline)}){state}"
                ),
                "details": {
                    "mentions_in_baseline": n,
                    "last_mention_at": last.isoformat(),
                    "expected_within_seconds": allowed.total_seconds(),
                    "last_error": (h.last_error if h is not None else None),
                },
            }
        )
    return out


def _longest_silence(conn: Connection, source: str, since: datetime) -> timedelta:
    m = mentions.c
    times = conn.scalars(
        sa.select(m.created_at)
        .where(m.source == source, m.created_at >= since)
        .order_by(m.created_at)
        .limit(200_000)
    ).all()
    longest = timedelta(0)
    for a, b in zip(times, times[1:], strict=False):
        longest = max(longest, b - a)
    return longest


def _dur(td: timedelta) -> str:
    s = int(td.total_seconds())
    if s >= 2 * 86400:
        return f"{s // 86400}d"
    if s >= 2 * 3600:
        return f"{s // 3600}h"
    if s >= 120:
        return f"{s // 60}m"
    return f"{s}s"

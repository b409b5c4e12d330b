"""Spike and gap alerts, stored once and delivered to a Slack-compatible webhook once.

Spikes (per brand and competitor, from `rollup_hourly`): for the previous
complete hour and the current one, the hour's mention volume is compared with
mean + k*sigma of the hourly volumes over `alerts.baseline` (hours without
mentions count as zero; hours before the entity's first data do not count),
and its share of negative with the baseline share plus k standard errors for
the hour's size. An hour needs `alerts.min_mentions` mentions and the baseline
at least a day of history. `alerts.cooldown` keeps one event to one alert: no
second alert of the same kind for the same entity while an earlier one is
within the cooldown. Each alert carries its drivers (top terms of the hour's
posts, platforms, example posts), read from the indexed mentions of that hour
by `earful.alerts_drivers`.

Gaps (per source, from its stored mentions and health row; found by
`earful.alerts_gaps`): a source that usually yields mentions and has gone
silent for far longer than usual raises one alert per silence.

Every alert has a unique `dedupe_key`, so concurrent or repeated `detect` runs
store it once. `housekeeping` is the worker's periodic run of detection and
delivery.

The cut is here because this module decides which entity-hours are spikes,
from the rollup's counts, and stores what detection finds; a source's
silence (`earful.alerts_gaps`), what explains a spike (`spike_drivers`, in
`earful.alerts_drivers`) and posting alerts at most once to the webhook
(`deliver`, `slack_payload`, `MAX_DELIVERY_ATTEMPTS`, in
`earful.alerts_delivery`) live apart; the last three are re-exported here, so
`from earful.alerts import deliver` still works.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.alerts_delivery import MAX_DELIVERY_ATTEMPTS, deliver, slack_payload
from earful.alerts_drivers import spike_drivers
from earful.alerts_gaps import _gaps
from earful.config import Settings
from earful.models import as_utc, utcnow
from earful.schema import alerts, rollup_hourly

if TYPE_CHECKING:
    from earful.store import Store

HOUR = timedelta(hours=1)
MIN_BASELINE_HOURS = 24
SCORED = ("positive", "neutral", "negative")


# -- detection -----------------------------------------------------------------
def _hour(dt: datetime) -> datetime:
    return dt.replace(minute=0, second=0, microsecond=0)


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _entity_hours(
    conn: Connection, since: datetime, until: datetime
) -> dict[str, dict[datetime, dict[str, int]]]:
    """entity -> hour -> {label: n, "_all": n} from the rollup."""
    r = rollup_hourly.c
    out: dict[str, dict[datetime, dict[str, int]]] = {}
    rows = conn.execute(
        sa.select(r.matched, r.hour, r.label, sa.func.sum(r.n))
        .where(r.hour >= since, r.hour < until)
        .group_by(r.matched, r.hour, r.label)
    )
    for matched, hour, label, n in rows:
        h = out.setdefault(matched, {}).setdefault(as_utc(hour), {"_all": 0})
        h[label] = h.get(label, 0) + int(n)
        h["_all"] += int(n)
    return out


def _first_hours(conn: Connection, since: datetime) -> dict[str, datetime]:
    """Each entity's first rollup hour at or after `since` (a range on the rollup's key)."""
    r = rollup_hourly.c
    rows = conn.execute(
        sa.select(r.matched, sa.func.min(r.hour)).where(r.hour >= since).group_by(r.matched)
    )
    return {m: as_utc(h) for m, h in rows}


def _in_cooldown(
    conn: Connection, kind: str, subject: str, start: datetime, cooldown: timedelta
) -> bool:
    a = alerts.c
    return (
        conn.scalar(
            sa.select(a.id)
            .where(
                a.kind == kind,
                a.subject == subject,
                a.window_start > start - cooldown,
                a.window_start <= start + cooldown,
            )
            .limit(1)
        )
        is not None
    )


def detect(store: Store, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Find spikes and gaps as of `now`; store the new ones; return them (already-known ones are not)."""
    now = as_utc(now or utcnow())
    cfg = settings.alerts
    current = _hour(now)
    hours = [current - HOUR, current]
    found: list[dict[str, Any]] = []
    with store.read() as conn:
        data = _entity_hours(conn, hours[0] - cfg.baseline, current + HOUR)
        first = _first_hours(conn, hours[0] - cfg.baseline)
        for entity in settings.entities():
            per_hour = data.get(entity, {})
            for h in hours:
                found += _spikes_for(conn, settings, entity, h, per_hour, first.get(entity), now)
        found += _gaps(conn, settings, now)
    stored: list[dict[str, Any]] = []
    with store.write() as conn:
        for a in found:
            if a["kind"] != "gap" and _in_cooldown(
                conn, a["kind"], a["subject"], a["window_start"], cfg.cooldown
            ):
                continue
            res = conn.execute(
                store.insert(alerts)
                .values(**a)
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(alerts.c.id)
            ).first()
            if res is not None:
                stored.append({**a, "id": res.id, "delivered_at": None, "delivery_attempts": 0})
    return stored


def _spikes_for(
    conn: Connection,
    settings: Settings,
    entity: str,
    h: datetime,
    per_hour: dict[datetime, dict[str, int]],
    first: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    cfg = settings.alerts
    cur = per_hour.get(h)
    if not cur or first is None or cur["_all"] < cfg.min_mentions:
        return []
    start = max(h - cfg.baseline, first)
    base_hours = [start + HOUR * i for i in range(int((h - start) / HOUR))]
    if len(base_hours) < min(MIN_BASELINE_HOURS, int(cfg.baseline / HOUR)):
        return []  # not enough history to know what "usual" is
    out: list[dict[str, Any]] = []
    vols = [float(per_hour.get(b, {}).get("_all", 0)) for b in base_hours]
    mean, std = _mean_std(vols)
    n = cur["_all"]
    threshold = mean + cfg.k * std
    end = h + HOUR
    if n > threshold:
        out.append(
            _spike(
                conn,
                settings,
                "volume_spike",
                entity,
                h,
                end,
                float(n),
                mean,
                f"{n} mentions of {entity} in the hour from {h:%Y-%m-%d %H:00} UTC "
                f"(usually {mean:.1f} ± {std:.1f})",
                {"threshold": threshold, "std": std},
                now,
            )
        )
    scored = sum(cur.get(lab, 0) for lab in SCORED)
    neg = cur.get("negative", 0)
    b_scored = sum(per_hour.get(b, {}).get(lab, 0) for b in base_hours for lab in SCORED)
    b_neg = sum(per_hour.get(b, {}).get("negative", 0) for b in base_hours)
    if scored >= cfg.min_mentions and b_scored > 0:
        p0 = b_neg / b_scored
        share = neg / scored
        se = math.sqrt(max(p0 * (1 - p0), 0.01) / scored)
        if share > p0 + cfg.k * se:
            out.append(
                _spike(
                    conn,
                    settings,
                    "negative_spike",
                    entity,
                    h,
                    end,
                    share,
                    p0,
                    f"{share:.0%} of {scored} scored mentions of {entity} were negative in the hour "
                    f"from {h:%Y-%m-%d %H:00} UTC (usually {p0:.0%})",
                    {"negative": neg, "scored": scored, "threshold": p0 + cfg.k * se},
                    now,
                )
            )
    return out


def _spike(
    conn: Connection,
    settings: Settings,
    kind: str,
    entity: str,
    start: datetime,
    end: datetime,
    value: float,
    baseline: float,
    summary: str,
    extra: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    drivers = spike_drivers(conn, settings, entity, start, end, negative=kind == "negative_spike")
    if drivers["top_terms"]:
        summary += "; top terms: " + ", ".join(t for t, _ in drivers["top_terms"][:5])
    if drivers["platforms"]:
        summary += "; platforms: " + ", ".join(f"{p} ({n})" for p, n in drivers["platforms"][:3])
    return {
        "kind": kind,
        "subject": entity,
        "dedupe_key": f"{kind}:{entity}:{start.isoformat()}",
        "window_start": start,
        "window_end": end,
        "created_at": now,
        "value": value,
        "baseline": baseline,
        "summary": summary,
        "details": {**drivers, **extra},
    }


# -- reads ---------------------------------------------------------------------
def list_alerts(
    store: Store, since: datetime | None = None, *, kind: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Alerts raised at or after `since`, newest first."""
    a = alerts.c
    q = sa.select(alerts).order_by(a.created_at.desc(), a.id.desc()).limit(limit)
    if since is not None:
        q = q.where(a.created_at >= as_utc(since))
    if kind is not None:
        q = q.where(a.kind == kind)
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def housekeeping(
    store: Store,
    settings: Settings,
    client: httpx.Client,
    now: datetime | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """The worker's periodic chores: wake snoozed queue items, detect alerts, deliver them.

    Returns lines worth printing; a failure in one chore is reported, not raised,
    so polling goes on.
    """
    from earful.queue import wake_snoozed  # late: keeps this module importable on its own

    now = as_utc(now or utcnow())
    lines: list[str] = []
    try:
        woke = wake_snoozed(store, now)
        if woke:
            lines.append(f"queue: {woke} snoozed item(s) back to open")
    except Exception as exc:
        lines.append(f"queue: could not wake snoozed items: {exc}")
    try:
        for a in detect(store, settings, now):
            lines.append(f"alert: {a['kind']} {a['subject']}: {a['summary']}")
    except Exception as exc:
        lines.append(f"alerts: detection failed: {exc}")
    try:
        sent = deliver(store, settings, client, now, sleep=sleep)
        if sent:
            lines.append(f"alerts: {sent} delivered to the webhook")
    except Exception as exc:
        lines.append(f"alerts: delivery failed: {exc}")
    return lines


__all__ = [
    "housekeeping",
    "detect",
    "deliver",
    "list_alerts",
    "slack_payload",
    "spike_drivers",
    "MAX_DELIVERY_ATTEMPTS",
]

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
posts, platforms, example posts), read from the indexed mentions of that hour.

Gaps: a source whose mentions over the baseline came often enough (at least
`min_mentions`) and that has yielded nothing for longer than five times its
usual spacing, half again its longest silence of the baseline (quiet nights),
three poll intervals and an hour raises one alert per silence (the dedupe key
holds the time of its last mention).

Every alert has a unique `dedupe_key`, so concurrent or repeated `detect` runs
store it once. `deliver` claims an alert (a conditional UPDATE of its attempt
counter) before posting, so two workers never post the same alert; a post
whose outcome is unknown (timeout after sending) is not retried.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import Settings, split_terms
from earful.models import as_utc, utcnow
from earful.schema import alerts, mentions, rollup_hourly, source_health

if TYPE_CHECKING:
    from earful.store import Store

HOUR = timedelta(hours=1)
MIN_BASELINE_HOURS = 24
GAP_FACTOR = 5.0
MAX_DELIVERY_ATTEMPTS = 6
DRIVER_POSTS = 500
SCORED = ("positive", "neutral", "negative")
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)
# General English function words; drivers should be content words.
STOPWORDS = frozenset(
    """
    the and for are but not you your yours with this that these those from have has had was were
    will would can could should shall been being they them their there here what when where which
    who whom why how all any some just about into over than then too very also only our ours out
    get got its it's i'm im i've you're don't doesn't didn't can't won't isn't aren't wasn't one
    more most much many such own same other again once both each few off under until while
    does did doing because let lets via amp http https www com today now still even really
    """.split()
)


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


def entity_stopwords(settings: Settings, entity: str) -> set[str]:
    words = {entity.lower()}
    for t, _ in split_terms(settings.entities().get(entity, [])):
        words.update(w.lower().lstrip("@#") for w in t.split())
    return words


def spike_drivers(
    conn: Connection,
    settings: Settings,
    entity: str,
    start: datetime,
    end: datetime,
    *,
    negative: bool = False,
) -> dict[str, Any]:
    """Top terms (by number of posts using them), platforms and example posts of one window."""
    m = mentions.c
    where = [m.matched == entity, m.created_at >= start, m.created_at < end]
    if negative:
        where.append(m.label == "negative")
    rows = conn.execute(
        sa.select(m.id, m.platform, m.author, m.url, m.text, m.engagement, m.label)
        .where(*where)
        .order_by(m.engagement.desc(), m.created_at.desc())
        .limit(DRIVER_POSTS)
    ).all()
    skip = STOPWORDS | entity_stopwords(settings, entity)
    terms: Counter[str] = Counter()
    platforms: Counter[str] = Counter()
    for r in rows:
        platforms[r.platform] += 1
        words = {w.lower().strip("'’-") for w in _WORD.findall(r.text or "")}
        terms.update(w for w in words if len(w) >= 3 and w not in skip)
    top = [(t, n) for t, n in terms.most_common(8) if n >= 2 or len(rows) < 4]
    examples = [
        {
            "mention_id": int(r.id),
            "platform": r.platform,
            "author": r.author,
            "url": r.url,
            "text": (r.text or "")[:280],
            "label": r.label,
        }
        for r in rows[:3]
    ]
    return {"top_terms": top, "platforms": platforms.most_common(), "examples": examples}


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


# -- delivery ------------------------------------------------------------------
def _esc(text: str) -> str:
    """Slack mrkdwn control characters; post text from strangers stays inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


TITLES = {
    "volume_spike": "Volume spike",
    "negative_spike": "Negative spike",
    "gap": "Source gone silent",
}


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible JSON: a plain `text` fallback plus blocks."""
    title = f"{TITLES.get(alert['kind'], alert['kind'])}: {alert['subject']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _esc(alert["summary"])[:2900]}},
    ]
    details = alert.get("details") or {}
    for ex in (details.get("examples") or [])[:3]:
        link = str(ex.get("url") or "")
        who = _esc(f"{ex.get('platform')} · {ex.get('author')}")
        head = f"<{_esc(link)}|{who}>" if link.startswith(("http://", "https://")) else who
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{head}: {_esc(str(ex.get('text') or ''))[:500]}"}
                ],
            }
        )
    return {"text": f"{title}. {alert['summary']}"[:3000], "blocks": blocks}


def deliver(
    store: Store,
    settings: Settings,
    client: httpx.Client,
    now: datetime | None = None,
    *,
    tries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Post undelivered alerts to the webhook named by `alerts.webhook_url_env`; return how many were delivered.

    Each alert is tried up to `tries` times per call (backoff 0.5 s, 1 s...) and
    MAX_DELIVERY_ATTEMPTS times in all; 4xx other than 429 is not retried; a
    timeout after sending is recorded and never retried (it may have arrived).
    """
    url = settings.secret(settings.alerts.webhook_url_env)
    if not url:
        return 0
    now = as_utc(now or utcnow())
    a = alerts.c
    with store.read() as conn:
        pending = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(alerts)
                .where(
                    a.delivered_at.is_(None),
                    a.delivery_attempts < MAX_DELIVERY_ATTEMPTS,
                    sa.or_(
                        a.delivery_error.is_(None), sa.not_(a.delivery_error.startswith(SENDING))
                    ),
                )
                .order_by(a.created_at, a.id)
                .limit(50)
            )
        ]
    delivered = 0
    for alert in pending:
        attempts = int(alert["delivery_attempts"])
        for i in range(tries):
            if attempts >= MAX_DELIVERY_ATTEMPTS:
                break
            if not _claim(store, alert["id"], attempts, now):
                break  # someone else delivered it or is trying right now
            attempts += 1
            outcome, error = _post(client, url, slack_payload(alert))
            _record(store, alert["id"], outcome, error, now)
            if outcome == "ok":
                delivered += 1
                break
            if outcome != "retry":
                break
            if i + 1 < tries:
                sleep(0.5 * 2**i)
    return delivered


SENDING = "sending"  # delivery_error while a worker holds the claim


def _claim(store: Store, alert_id: int, attempts: int, now: datetime) -> bool:
    """Take the alert for one attempt: not delivered, nobody sending it, attempts as we saw them.

    A worker that dies while holding the claim leaves it "sending": the post may
    have arrived, so it is not retried (at most once), and the error says so.
    """
    e = alerts.c.delivery_error
    with store.write() as conn:
        res = conn.execute(
            alerts.update()
            .where(
                alerts.c.id == alert_id,
                alerts.c.delivered_at.is_(None),
                alerts.c.delivery_attempts == attempts,
                sa.or_(e.is_(None), sa.not_(e.startswith(SENDING))),
            )
            .values(
                delivery_attempts=attempts + 1,
                delivery_error=f"{SENDING} since {now:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
        return res.rowcount == 1


def _post(client: httpx.Client, url: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    """'ok', 'retry' (not delivered, worth another try), 'give_up' or 'unknown'."""
    try:
        resp = client.post(url, json=payload)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return "retry", f"cannot reach the webhook: {exc.__class__.__name__}"
    except httpx.HTTPError as exc:
        return (
            "unknown",
            f"{exc.__class__.__name__} after sending; not retried (it may have arrived)",
        )
    if 200 <= resp.status_code < 300:
        return "ok", None
    brief = f"HTTP {resp.status_code}: {resp.text[:200]}"
    if resp.status_code == 429 or resp.status_code >= 500:
        return "retry", brief
    return "give_up", brief


def _record(store: Store, alert_id: int, outcome: str, error: str | None, now: datetime) -> None:
    values: dict[str, Any] = {"delivery_error": error}
    if outcome == "ok":
        values["delivered_at"] = now
    elif outcome in ("give_up", "unknown"):
        values["delivery_attempts"] = MAX_DELIVERY_ATTEMPTS  # stop trying
    with store.write() as conn:
        conn.execute(alerts.update().where(alerts.c.id == alert_id).values(values))


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

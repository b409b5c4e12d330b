"""What a poll did, and the `source_health` row that keeps it for `earful status`.

Part of `earful.poller`. `PollResult` is one poll's outcome and its summary
line; `record` turns it into the source's health row: last success, last
error in plain words (`describe`) and its kind, rate-limited-until,
consecutive failures and the backoff they earn (doubling from `every`,
capped at FAILURE_BACKOFF_CAP, or at `every` when longer), items last poll
and today, skipped (malformed + off-topic), next poll. `status_rows` reads those rows back for
the CLI and the dashboard.

The cut is here because this is everything written to or read from a
health row except the lease columns (`earful.poller_lease`): the dashboard's
Sources page and `earful status` need it without the polling loop, and the
poller only hands over a finished `PollResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from earful.models import as_utc, utcnow
from earful.schema import source_health
from listeners import REGISTRY
from listeners.base import ERROR_WORDS, SourceError

if TYPE_CHECKING:
    from earful.config import Settings, SourceConfig
    from earful.store import Store

FAILURE_BACKOFF_CAP = timedelta(hours=1)


@dataclass
class PollResult:
    source: str
    new: int = 0
    duplicates: int = 0
    malformed: int = 0
    dropped: int = 0
    pages: int = 0
    error: SourceError | None = None
    busy: bool = False
    attempts: int = 0
    more: bool = False  # stopped at the page bound with more to fetch: poll again soon
    purged: int = 0  # stored posts seen deleted or removed at the source, and purged
    queries: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.busy:
            return f"{self.source}: skipped, another worker is polling it"
        counts = (
            f"{self.new} new, {self.duplicates} already stored, "
            f"{self.malformed + self.dropped} skipped "
            f"({self.malformed} malformed, {self.dropped} off-topic), {self.pages} pages"
        )
        if self.purged:
            counts += f", {self.purged} purged (deleted at the source)"
        if self.error is None:
            retried = f", after {self.attempts - 1} retries" if self.attempts > 1 else ""
            return f"{self.source}: ok, {counts}{retried}"
        return f"{self.source}: FAILED: {describe(self.error)}; {counts}"


def describe(err: SourceError) -> str:
    """An error in plain words, e.g. 'rate-limited by the platform until 12:05 UTC (...)'."""
    words = ERROR_WORDS.get(err.kind, ERROR_WORDS["error"])
    if err.retry_at is not None and err.kind in ("rate_limited", "blocked"):
        words += f" until {as_utc(err.retry_at).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    return f"{words} ({err.message})" if err.message else words


def ensure_health(store: Store, sources: list[SourceConfig]) -> None:
    """A health row for each source, before its first poll."""
    if not sources:
        return
    ins = store.insert(source_health)
    stmt = ins.on_conflict_do_update(  # a renamed platform under the same name follows config
        index_elements=["source"], set_={"platform": ins.excluded.platform}
    )
    with store.write() as conn:
        for s in sources:
            conn.execute(stmt, {"source": s.key, "platform": s.platform})


def health(store: Store, key: str) -> dict[str, Any] | None:
    """The source's health row as a dict, None before its first poll."""
    with store.read() as conn:
        row = conn.execute(sa.select(source_health).where(source_health.c.source == key)).first()
    return dict(row._mapping) if row is not None else None


def record(
    store: Store, src: SourceConfig, res: PollResult, started: datetime, now: datetime
) -> None:
    """Write a finished poll's outcome into the source's health row."""
    today = now.date().isoformat()
    h = source_health.c
    with store.write() as conn:
        row = conn.execute(sa.select(source_health).where(h.source == src.key)).first()
        prev_today = row.items_today if row is not None and row.today == today else 0
        failures = row.consecutive_failures if row is not None else 0
        values: dict[str, Any] = {
            "last_attempt": started,
            "items_last_poll": res.new,
            "items_today": prev_today + res.new,
            "today": today,
            "skipped_total": (row.skipped_total if row is not None else 0)
            + res.malformed
            + res.dropped,
        }
        if res.error is None:
            values |= {
                "last_success": now,
                "consecutive_failures": 0,
                "rate_limited_until": None,
                "next_poll": now if res.more else now + src.every,
            }
        else:
            err = res.error
            failures += 1
            backoff = min(src.every * (2 ** (failures - 1)), max(src.every, FAILURE_BACKOFF_CAP))
            nxt = now + backoff
            if err.retry_at is not None:
                nxt = max(nxt, as_utc(err.retry_at))
            values |= {
                "last_error": describe(err),
                "error_kind": err.kind,
                "last_error_at": now,
                "consecutive_failures": failures,
                "rate_limited_until": as_utc(err.retry_at)
                if err.kind == "rate_limited" and err.retry_at is not None
                else None,
                "next_poll": nxt,
            }
        conn.execute(source_health.update().where(h.source == src.key).values(**values))


def _status(row: dict[str, Any] | None, now: datetime) -> str:
    if row is None or row.get("last_attempt") is None:
        return "never polled"
    until = row.get("rate_limited_until")
    if until is not None and as_utc(until) > now:
        return "rate-limited"
    if (row.get("consecutive_failures") or 0) > 0:
        return "needs credentials" if row.get("error_kind") == "needs_credentials" else "failing"
    return "ok"


def status_rows(
    settings: Settings, store: Store, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One dict per configured source: its health in words the dashboard and CLI print."""
    now = now or utcnow()
    with store.read() as conn:
        rows = {r.source: dict(r._mapping) for r in conn.execute(sa.select(source_health))}
    out = []
    today = now.date().isoformat()
    for src in settings.sources:
        row = rows.get(src.key)
        cls = REGISTRY.get(src.platform)
        failing = row is not None and (row.get("consecutive_failures") or 0) > 0
        out.append(
            {
                "name": src.key,
                "platform": src.platform,
                "enabled": src.enabled,
                "status": _status(row, now),
                "last_success": row.get("last_success") if row else None,
                "last_attempt": row.get("last_attempt") if row else None,
                "last_error": row.get("last_error") if row else None,
                "error_kind": row.get("error_kind") if row and failing else None,
                "last_error_at": row.get("last_error_at") if row else None,
                "consecutive_failures": row.get("consecutive_failures", 0) if row else 0,
                "rate_limited_until": row.get("rate_limited_until") if row else None,
                "items_last_poll": row.get("items_last_poll", 0) if row else 0,
                "items_today": row.get("items_today", 0)
                if row and row.get("today") == today
                else 0,
                "skipped_total": row.get("skipped_total", 0) if row else 0,
                "next_poll": row.get("next_poll") if row else None,
                "every": src.every,
                "sees": cls.sees if cls is not None else "",
                "deletions": cls.deletions if cls is not None else "",
            }
        )
    return out

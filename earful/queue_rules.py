"""What every part of the reply queue shares: its vocabulary, the SLA clock and audit rows.

The system actor, the priority bands and status groups (which statuses wait
and which reopen), the SLA targets (`attach_settings`, `sla_target`) and the
clock read from stored timestamps (`effective_status`, `sla_state`), and the
shape of an `audit_log` row (`_snap`, `_audit`, `write_audit`). The cut is
here because the actions (`earful.queue`), enqueue (`earful.queue_enqueue`),
the reads (`earful.queue_reads`) and canned replies (`earful.queue_canned`)
all need these and none of them needs the others; this module imports none
of them. See `earful.queue` for the state machine these rules serve.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from earful.config import Settings, SLAConfig
from earful.models import as_utc, utcnow
from earful.schema import audit_log

if TYPE_CHECKING:
    from earful.store import Store

SYSTEM_ACTOR = "earful"
BANDS: tuple[str, ...] = ("urgent", "high", "normal", "low")
# Statuses in which the customer is still waiting for us (the SLA clock runs).
WAITING: tuple[str, ...] = ("open", "snoozed")
REOPENABLE: tuple[str, ...] = ("resolved", "pending", "snoozed")
_AUDITED = ("status", "assignee", "snoozed_until", "waiting_since", "sla_due_at", "version")


# -- settings ------------------------------------------------------------------
def attach_settings(store: Store, settings: Settings) -> None:
    """Make `enqueue` use this config's SLA targets (the poller calls this once)."""
    store.sla = settings.sla


def sla_target(sla: SLAConfig, band: str) -> timedelta:
    """First-response target for a priority band (unknown bands get `normal`)."""
    return getattr(sla, band if band in BANDS else "normal")


def _sla_of(store: Store) -> SLAConfig:
    sla = getattr(store, "sla", None)
    return sla if isinstance(sla, SLAConfig) else SLAConfig()


def band_for(priority: float) -> str:
    from earful.triage import band_for as triage_band  # late: triage calls into earful.queue

    return triage_band(priority)


# -- SLA -----------------------------------------------------------------------
def effective_status(item: dict[str, Any], now: datetime) -> str:
    """`snoozed` whose time has passed counts as `open`."""
    until = item.get("snoozed_until")
    if item["status"] == "snoozed" and (until is None or as_utc(until) <= now):
        return "open"
    return str(item["status"])


def sla_state(item: dict[str, Any], now: datetime) -> tuple[float | None, bool]:
    """(seconds left to the first-response target, breached) from stored timestamps.

    Negative seconds mean overdue. When the clock has stopped (replied, resolved,
    dismissed) the seconds are measured at the stop time. `(None, False)` when no
    target is set or the stop time is unknown.
    """
    due = item.get("sla_due_at")
    if due is None:
        return None, False
    due = as_utc(due)
    waiting = as_utc(item["waiting_since"])
    stop: datetime | None = None
    first = item.get("first_reply_at")
    if first is not None and as_utc(first) >= waiting:
        stop = as_utc(first)
    status = effective_status(item, now)
    if stop is None and status in ("resolved", "dismissed") and item.get("resolved_at"):
        stop = as_utc(item["resolved_at"])
    if stop is None:
        if status not in WAITING:
            return None, False
        stop = now
    left = (due - stop).total_seconds()
    return left, left < 0


# -- audit rows ----------------------------------------------------------------
def _snap(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _AUDITED if k in row}


def _audit(
    now: datetime,
    actor: str,
    mention_id: int | None,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor": actor,
        "mention_id": mention_id,
        "action": action,
        "before": before,
        "after": after,
    }


def write_audit(
    conn: Connection,
    *,
    actor: str,
    mention_id: int | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit row (other modules' actions use this too)."""
    conn.execute(
        audit_log.insert().values(_audit(now or utcnow(), actor, mention_id, action, before, after))
    )

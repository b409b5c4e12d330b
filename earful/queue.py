"""The reply queue: a Chatwoot-like state machine, SLA clocks, notes, canned replies, audit.

One queue item per conversation: `(platform, thread_id, author)`. A mention that
needs a reply opens an item; a later post by the same author in the same thread
reopens a resolved, pending or snoozed item instead of opening a second one
(`enqueue_new`, called by `earful.triage.enqueue` inside the insert transaction).

Statuses: open -> pending / snoozed (until a time) -> resolved or dismissed, and
back to open. A snoozed item whose time has passed reads as open everywhere
(`list_queue`, `get_item`) and `wake_snoozed(store, now)` stores that.

SLA: `sla_due_at = waiting_since + target(band)` is stored when the item starts
waiting; `sla_state(item, now)` derives time left and breach from stored
timestamps only, so tests use fixed clocks. The clock runs while an item is
open or snoozed and stops at the first reply after `waiting_since`, or when the
item is resolved or dismissed.

Every action writes an `audit_log` row (who, when, what, before, after) in the
same transaction as the change. Writes check `queue_items.version`: a caller
passes the version it saw, and a mismatch raises `StaleItem` carrying the
current row, so the UI can say "changed by NAME at TIME".

Layout: this module holds the state machine's actions on one item (`assign`,
`set_status`, `wake_snoozed`, `mark_replied`, `add_note`) and their versioned,
audited writes; `earful.queue_rules` the vocabulary they share (system actor,
bands, status groups, SLA targets and clock, audit rows); `earful.queue_enqueue`
opening and reopening items in the insert transaction; `earful.queue_reads` the
read side (`list_queue`, `count_queue`, `get_item`, `audit_for`, `notes_for`);
`earful.queue_canned` canned replies. Every public name is importable from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.models import QUEUE_STATUSES, as_utc, utcnow

# The parts split out of this module, re-exported so callers keep importing from here
# (`X as X`: public names that were never in __all__).
from earful.queue_canned import canned_replies, render_canned, save_canned
from earful.queue_enqueue import enqueue_new
from earful.queue_reads import audit_for, count_queue, get_item, list_queue, notes_for
from earful.queue_rules import BANDS as BANDS
from earful.queue_rules import REOPENABLE as REOPENABLE
from earful.queue_rules import (
    SYSTEM_ACTOR,
    _audit,
    _snap,
    attach_settings,
    effective_status,
    sla_state,
    sla_target,
    write_audit,
)
from earful.queue_rules import WAITING as WAITING
from earful.queue_rules import band_for as band_for
from earful.schema import audit_log, mentions, queue_items, queue_notes

if TYPE_CHECKING:
    from earful.store import Store


class StaleItem(Exception):
    """Someone changed the item since the caller read it; `.current` is the row now."""

    def __init__(self, current: dict[str, Any]) -> None:
        who = current.get("updated_by") or "someone"
        when = current.get("updated_at")
        at = (
            when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else "an unknown time"
        )
        super().__init__(f"changed by {who} at {at}")
        self.current = current


class ItemNotFound(LookupError):
    """No queue item for this mention."""


# -- actions -------------------------------------------------------------------
def _load(conn: Connection, mention_id: int, *, lock: bool = False) -> dict[str, Any]:
    q = sa.select(queue_items).where(queue_items.c.mention_id == mention_id)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise ItemNotFound(f"no queue item for mention {mention_id}")
    return dict(row._mapping)


def _update(
    conn: Connection,
    before: dict[str, Any],
    changes: dict[str, Any],
    *,
    actor: str,
    action: str,
    expected_version: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Versioned UPDATE + audit row; raises StaleItem when the version moved."""
    mid = before["mention_id"]
    if expected_version is not None and before["version"] != expected_version:
        raise StaleItem(before)
    values = {**changes, "version": before["version"] + 1, "updated_by": actor, "updated_at": now}
    res = conn.execute(
        queue_items.update()
        .where(queue_items.c.mention_id == mid, queue_items.c.version == before["version"])
        .values(values)
    )
    if res.rowcount != 1:  # changed between our read and write
        raise StaleItem(_load(conn, mid))
    after = {**before, **values}
    conn.execute(
        audit_log.insert().values(
            _audit(now, actor, mid, action, _snap(before), _snap({**changes, **values}))
        )
    )
    return after


def assign(
    store: Store,
    mention_id: int,
    assignee: str | None,
    *,
    actor: str,
    expected_version: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assign (or unassign with None) an item; returns the updated queue row."""
    now = now or utcnow()
    with store.write() as conn:
        before = _load(conn, mention_id, lock=True)
        return _update(
            conn,
            before,
            {"assignee": assignee or None},
            actor=actor,
            action="assign",
            expected_version=expected_version,
            now=now,
        )


def set_status(
    store: Store,
    mention_id: int,
    status: str,
    *,
    actor: str,
    expected_version: int,
    snoozed_until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move an item to open, pending, snoozed (needs `snoozed_until` in the future), resolved or dismissed."""
    now = now or utcnow()
    if status not in QUEUE_STATUSES:
        raise ValueError(f"unknown status {status!r} (one of {', '.join(QUEUE_STATUSES)})")
    if status == "snoozed":
        if snoozed_until is None or as_utc(snoozed_until) <= now:
            raise ValueError("snoozing needs a time in the future")
        snoozed_until = as_utc(snoozed_until)
    with store.write() as conn:
        before = _load(conn, mention_id, lock=True)
        changes: dict[str, Any] = {"status": status, "snoozed_until": snoozed_until}
        if status == "open":
            changes["resolved_at"] = None
            if before["status"] in ("resolved", "dismissed", "pending"):
                # A new wait starts now; the target keeps the length it was given at enqueue.
                changes["waiting_since"] = now
                due = before.get("sla_due_at")
                if due is not None:
                    changes["sla_due_at"] = now + (due - before["waiting_since"])
        elif status in ("resolved", "dismissed"):
            changes["resolved_at"] = now
        return _update(
            conn,
            before,
            changes,
            actor=actor,
            action="status",
            expected_version=expected_version,
            now=now,
        )


def wake_snoozed(store: Store, now: datetime | None = None) -> int:
    """Store `open` for snoozed items whose time has passed; return how many woke."""
    now = now or utcnow()
    with store.write() as conn:
        rows = conn.execute(
            sa.select(queue_items).where(
                queue_items.c.status == "snoozed", queue_items.c.snoozed_until <= now
            )
        ).all()
        woke = 0
        for r in rows:
            try:
                _update(
                    conn,
                    dict(r._mapping),
                    {"status": "open", "snoozed_until": None},
                    actor=SYSTEM_ACTOR,
                    action="wake",
                    expected_version=None,
                    now=now,
                )
                woke += 1
            except StaleItem:
                continue
        return woke


def mark_replied(conn: Connection, mention_id: int, *, actor: str, now: datetime) -> None:
    """After a confirmed reply to `mention_id`: first reply time, status pending (if queued)."""
    item_id = conversation_item_id(conn, mention_id)
    if item_id is None:
        return
    before = _load(conn, item_id)
    changes: dict[str, Any] = {"status": "pending", "snoozed_until": None}
    if before.get("first_reply_at") is None:
        changes["first_reply_at"] = now
    elif as_utc(before["first_reply_at"]) < as_utc(before["waiting_since"]):
        # A reply after a reopen: the SLA clock stops here too.
        changes["first_reply_at"] = now
    if before["status"] in ("resolved", "dismissed"):
        changes.pop("status")
    _update(conn, before, changes, actor=actor, action="replied", expected_version=None, now=now)


def conversation_item_id(conn: Connection, mention_id: int) -> int | None:
    """The queue item a mention belongs to: its own, or its conversation's."""
    own = conn.scalar(
        sa.select(queue_items.c.mention_id).where(queue_items.c.mention_id == mention_id)
    )
    if own is not None:
        return int(own)
    m = conn.execute(
        sa.select(mentions.c.platform, mentions.c.thread_id, mentions.c.author).where(
            mentions.c.id == mention_id
        )
    ).first()
    if m is None or not m.thread_id:
        return None
    found = conn.scalar(
        sa.select(queue_items.c.mention_id)
        .join(mentions, mentions.c.id == queue_items.c.mention_id)
        .where(
            mentions.c.platform == m.platform,
            mentions.c.thread_id == m.thread_id,
            mentions.c.author == m.author,
        )
        .order_by(queue_items.c.created_at.desc())
        .limit(1)
    )
    return None if found is None else int(found)


def add_note(
    store: Store, mention_id: int, text: str, *, actor: str, now: datetime | None = None
) -> None:
    """An internal note on an item (never sent to the customer)."""
    now = now or utcnow()
    text = text.strip()
    if not text:
        raise ValueError("a note needs some text")
    with store.write() as conn:
        _load(conn, mention_id)
        conn.execute(
            queue_notes.insert().values(mention_id=mention_id, author=actor, at=now, text=text)
        )
        write_audit(
            conn, actor=actor, mention_id=mention_id, action="note", after={"text": text}, now=now
        )


__all__ = [
    "StaleItem",
    "ItemNotFound",
    "attach_settings",
    "sla_target",
    "sla_state",
    "effective_status",
    "enqueue_new",
    "assign",
    "set_status",
    "wake_snoozed",
    "add_note",
    "get_item",
    "list_queue",
    "count_queue",
    "audit_for",
    "notes_for",
    "canned_replies",
    "save_canned",
    "render_canned",
    "write_audit",
    "mark_replied",
    "conversation_item_id",
]

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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import Settings, SLAConfig
from earful.models import QUEUE_STATUSES, Mention, as_utc, utcnow
from earful.schema import (
    UTCDateTime,
    audit_log,
    mentions,
    queue_items,
    queue_notes,
    sqlite_utc_value,
)
from earful.schema import canned_replies as canned_table

if TYPE_CHECKING:
    from earful.store import Store

SYSTEM_ACTOR = "earful"
BANDS: tuple[str, ...] = ("urgent", "high", "normal", "low")
# Statuses in which the customer is still waiting for us (the SLA clock runs).
WAITING: tuple[str, ...] = ("open", "snoozed")
REOPENABLE: tuple[str, ...] = ("resolved", "pending", "snoozed")
_AUDITED = ("status", "assignee", "snoozed_until", "waiting_since", "sla_due_at", "version")


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
    from earful.triage import band_for as triage_band  # late: triage calls into this module

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


# -- enqueue (runs in the insert transaction) ----------------------------------
# Authors per lookup query (bound parameters stay far below every dialect's limit).
_LOOKUP_CHUNK = 1000


def enqueue_new(
    conn: Connection, store: Store, new: Sequence[tuple[int, Mention]], now: datetime
) -> None:
    """Open items for new mentions that need a reply; reopen their conversation's item instead.

    A fixed number of statements per batch, whatever its size: one lookup of the
    conversations' items, one INSERT of new items, one UPDATE per kind of change
    (executemany) and one INSERT of audit rows.
    """
    if not new:
        return
    sla = _sla_of(store)
    keys = {(m.platform, m.thread_id, m.author) for _, m in new if m.thread_id}
    convs = _conversation_items(conn, keys)
    inserts: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    changes: dict[int, dict[str, Any]] = {}  # mention_id of an existing item -> columns to set
    for mid, m in sorted(new, key=lambda x: x[1].created_at):
        key = (m.platform, m.thread_id or "", m.author)
        item = convs.get(key) if m.thread_id else None
        if item is not None:
            _reopen_for(item, mid, m, sla, now, audits, changes)
            continue
        if not m.needs_reply:
            continue
        band = band_for(m.priority)
        row: dict[str, Any] = {
            "mention_id": mid,
            "status": "open",
            "priority": m.priority,
            "band": band,
            "created_at": now,
            "waiting_since": m.created_at,
            "sla_due_at": m.created_at + sla_target(sla, band),
            "version": 1,
            "updated_by": SYSTEM_ACTOR,
            "updated_at": now,
        }
        inserts.append(row)
        audits.append(_audit(now, SYSTEM_ACTOR, mid, "enqueue", None, _snap(row)))
        if m.thread_id:
            convs[key] = {**row, "_new": True}
    store.bulk_insert(conn, queue_items, inserts, skip_conflicts=True)
    _write_changes(conn, changes)
    store.bulk_insert(conn, audit_log, audits)


# What enqueue reads of an existing item: the reopen rule and the audited fields.
_ITEM_COLUMNS = (
    queue_items.c.mention_id,
    queue_items.c.status,
    queue_items.c.priority,
    queue_items.c.version,
    queue_items.c.created_at,
    queue_items.c.updated_at,
    queue_items.c.assignee,
    queue_items.c.snoozed_until,
    queue_items.c.waiting_since,
    queue_items.c.sla_due_at,
)
_ITEM_KEYS = tuple(c.key for c in _ITEM_COLUMNS)


def _conversation_items(
    conn: Connection, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The newest queue item (not dismissed) of each `(platform, thread_id, author)` in keys.

    Looked up by author (ix_mentions_author) and matched to threads here: one
    thread can hold thousands of posts (a busy Hacker News story), one author's
    posts are few. Rows come back from the driver as they are; only the
    winning row of each conversation gets its column types applied (the same
    result processors SQLAlchemy would run).
    """
    if not keys:
        return {}
    dialect = conn.dialect
    platforms = sorted({k[0] for k in keys})
    authors = sorted({k[2] for k in keys})
    newest: dict[tuple[str, str, str], Any] = {}
    if dialect.name == "sqlite":  # the same query, its SQL written once, lists bound as JSON
        lists = (json.dumps(platforms), json.dumps(authors))
        for r in conn.exec_driver_sql(_SQLITE_CONVERSATIONS, lists):
            key = (r[-3], r[-2], r[-1])
            if key in keys:
                newest[key] = r
        authors = []  # done: skip the generic loop
    for i in range(0, len(authors), _LOOKUP_CHUNK):  # a conversation's rows share a chunk
        stmt = (
            sa.select(*_ITEM_COLUMNS, mentions.c.platform, mentions.c.thread_id, mentions.c.author)
            .join(mentions, mentions.c.id == queue_items.c.mention_id)
            .where(
                mentions.c.platform.in_(platforms),
                mentions.c.author.in_(authors[i : i + _LOOKUP_CHUNK]),
                queue_items.c.status != "dismissed",
            )
            .order_by(queue_items.c.created_at, queue_items.c.mention_id)
        )
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        bound = compiled.params  # a property that builds the dict: read it once
        params: Any = (
            tuple(bound[k] for k in compiled.positiontup or ()) if compiled.positional else bound
        )
        for r in conn.exec_driver_sql(compiled.string, params):
            key = (r[-3], r[-2], r[-1])
            if key in keys:
                newest[key] = r  # the newest item of the conversation wins
    procs = _item_processors(dialect)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, r in newest.items():
        item = dict(zip(_ITEM_KEYS, r, strict=False))
        for name, proc in procs:
            item[name] = proc(item[name])
        out[key] = item
    return out


_SQLITE_CONVERSATIONS = (
    "SELECT "
    + ", ".join(f"queue_items.{c.key}" for c in _ITEM_COLUMNS)
    + ", mentions.platform, mentions.thread_id, mentions.author"
    " FROM queue_items JOIN mentions ON mentions.id = queue_items.mention_id"
    " WHERE mentions.platform IN (SELECT value FROM json_each(?))"
    " AND mentions.author IN (SELECT value FROM json_each(?))"
    " AND queue_items.status != 'dismissed'"
    " ORDER BY queue_items.created_at, queue_items.mention_id"
)

_PROCESSORS: dict[str, list[tuple[str, Any]]] = {}


def _item_processors(dialect: Any) -> list[tuple[str, Any]]:
    """(column, result processor) for the item's timestamp columns (text on SQLite, naive
    everywhere: SQLAlchemy's processors make them tz-aware UTC); drivers return the
    other columns' values as they are."""
    procs = _PROCESSORS.get(dialect.name)
    if procs is None:
        procs = []
        for c in _ITEM_COLUMNS:
            if not isinstance(c.type, sa.types.TypeDecorator):
                continue
            if dialect.name == "sqlite" and isinstance(c.type, UTCDateTime):
                procs.append((c.key, sqlite_utc_value))  # same value, a fifth of the cost
                continue
            proc = c.type.dialect_impl(dialect).result_processor(dialect, None)
            if proc is not None:
                procs.append((c.key, proc))
        _PROCESSORS[dialect.name] = procs
    return procs


def _reopen_for(
    item: dict[str, Any],
    mid: int,
    m: Mention,
    sla: SLAConfig,
    now: datetime,
    audits: list[dict[str, Any]],
    changes: dict[int, dict[str, Any]],
) -> None:
    """A later post in an item's conversation: reopen it, or raise its priority if still open.

    The item (as read at the start of the batch) is updated in memory and the
    columns to write are collected in `changes`; `_write_changes` stores them.
    """
    if item.get("_new"):  # opened earlier in this same batch: it is already open
        return
    last_change = as_utc(item.get("updated_at") or item["created_at"])
    priority = max(float(item["priority"]), m.priority if m.needs_reply else 0.0)
    band = band_for(priority)
    if item["status"] in REOPENABLE and m.created_at > last_change:
        after = {
            "status": "open",
            "priority": priority,
            "band": band,
            "waiting_since": m.created_at,
            "sla_due_at": m.created_at + sla_target(sla, band),
            "resolved_at": None,
            "snoozed_until": None,
            "version": item["version"] + 1,
            "updated_by": SYSTEM_ACTOR,
            "updated_at": now,
        }
        audits.append(
            _audit(
                now,
                SYSTEM_ACTOR,
                item["mention_id"],
                "reopen",
                _snap(item),
                {**_snap(after), "by_mention_id": mid},
            )
        )
        item.update(after)
        changes.setdefault(item["mention_id"], {}).update(after)
    elif item["status"] == "open" and priority > float(item["priority"]):
        item.update(priority=priority, band=band)
        changes.setdefault(item["mention_id"], {}).update(priority=priority, band=band)


def _write_changes(conn: Connection, changes: dict[int, dict[str, Any]]) -> None:
    """UPDATE the changed queue items: one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for mid, values in changes.items():
        cols = tuple(sorted(values))
        params = {f"v_{c}": values[c] for c in cols}
        params["k_mention_id"] = mid
        groups.setdefault(cols, []).append(params)
    for cols, params_list in groups.items():
        stmt = (
            queue_items.update()
            .where(queue_items.c.mention_id == sa.bindparam("k_mention_id"))
            .values({c: sa.bindparam(f"v_{c}", type_=queue_items.c[c].type) for c in cols})
        )
        conn.execute(stmt, params_list)


# -- actions -------------------------------------------------------------------
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


# -- reads ---------------------------------------------------------------------
_MENTION_COLS = (
    mentions.c.platform,
    mentions.c.external_id,
    mentions.c.native_id,
    mentions.c.source,
    mentions.c.url,
    mentions.c.author,
    mentions.c.author_followers,
    mentions.c.text,
    mentions.c.created_at.label("posted_at"),
    mentions.c.lang,
    mentions.c.in_reply_to,
    mentions.c.thread_id,
    mentions.c.matched,
    mentions.c.label,
    mentions.c.compound,
    mentions.c.intent,
    mentions.c.reason,
    mentions.c.engagement,
)


def _joined() -> sa.Select[Any]:
    return sa.select(queue_items, *_MENTION_COLS).join(
        mentions, mentions.c.id == queue_items.c.mention_id
    )


def _decorate(row: Any, now: datetime, settings: Settings | None) -> dict[str, Any]:
    item = dict(row._mapping)
    item["stored_status"] = item["status"]
    item["status"] = effective_status(item, now)
    if item.get("sla_due_at") is None and settings is not None:
        item["sla_due_at"] = as_utc(item["waiting_since"]) + sla_target(settings.sla, item["band"])
    left, breached = sla_state(item, now)
    item["sla_seconds_left"] = left
    item["sla_breached"] = breached
    return item


def get_item(
    store: Store, mention_id: int, *, now: datetime | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The queue row plus the mention's fields (`posted_at` is the post time) and SLA fields."""
    now = now or utcnow()
    with store.read() as conn:
        row = conn.execute(_joined().where(queue_items.c.mention_id == mention_id)).first()
        if row is None:
            return None
        item = _decorate(row, now, settings)
        latest = None
        if item.get("thread_id"):
            latest = conn.execute(
                sa.select(mentions.c.id, mentions.c.text, mentions.c.url, mentions.c.created_at)
                .where(
                    mentions.c.platform == item["platform"],
                    mentions.c.thread_id == item["thread_id"],
                    mentions.c.author == item["author"],
                )
                .order_by(mentions.c.created_at.desc())
                .limit(1)
            ).first()
        # The newest post of this conversation: the one a reply should answer.
        item["latest_mention_id"] = int(latest.id) if latest is not None else mention_id
        return item


def list_queue(
    store: Store,
    *,
    statuses: Iterable[str] = ("open",),
    assignee: str | None = None,
    platform: str | None = None,
    intent: str | None = None,
    breached_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Queue items with mention and SLA fields, highest priority first, then longest waiting.

    Status filters use the effective status (an expired snooze counts as open).
    """
    now = now or utcnow()
    wanted = set(statuses)
    qi = queue_items.c
    expired = sa.and_(qi.status == "snoozed", qi.snoozed_until <= now)
    conds: list[Any] = []
    plain = wanted - {"open", "snoozed"}
    ors: list[Any] = [qi.status.in_(sorted(plain))] if plain else []
    if "open" in wanted:
        ors += [qi.status == "open", expired]
    if "snoozed" in wanted:
        ors.append(sa.and_(qi.status == "snoozed", qi.snoozed_until > now))
    conds.append(sa.or_(*ors) if ors else sa.false())
    if assignee is not None:
        conds.append(qi.assignee == assignee)
    if platform is not None:
        conds.append(mentions.c.platform == platform)
    if intent is not None:
        conds.append(mentions.c.intent == intent)
    if breached_only:
        conds += [
            sa.or_(qi.status == "open", qi.status == "snoozed"),
            qi.sla_due_at < now,
            sa.or_(qi.first_reply_at.is_(None), qi.first_reply_at < qi.waiting_since),
        ]
    q = (
        _joined()
        .where(*conds)
        .order_by(qi.priority.desc(), qi.waiting_since.asc(), qi.mention_id.asc())
        .limit(limit)
        .offset(offset)
    )
    with store.read() as conn:
        return [_decorate(r, now, settings) for r in conn.execute(q)]


def count_queue(
    store: Store, *, statuses: Iterable[str] = ("open",), now: datetime | None = None
) -> int:
    """How many items have these stored statuses (plus expired snoozes when counting open)."""
    now = now or utcnow()
    wanted = sorted(set(statuses))
    qi = queue_items.c
    cond: Any = qi.status.in_(wanted)
    if "open" in wanted and "snoozed" not in wanted:
        cond = sa.or_(cond, sa.and_(qi.status == "snoozed", qi.snoozed_until <= now))
    with store.read() as conn:
        return int(
            conn.scalar(sa.select(sa.func.count()).select_from(queue_items).where(cond)) or 0
        )


def audit_for(store: Store, mention_id: int) -> list[dict[str, Any]]:
    """Audit rows for one item, oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(audit_log)
            .where(audit_log.c.mention_id == mention_id)
            .order_by(audit_log.c.at, audit_log.c.id)
        )
        return [dict(r._mapping) for r in rows]


def notes_for(store: Store, mention_id: int) -> list[dict[str, Any]]:
    """Internal notes for one item, oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(queue_notes)
            .where(queue_notes.c.mention_id == mention_id)
            .order_by(queue_notes.c.at, queue_notes.c.id)
        )
        return [dict(r._mapping) for r in rows]


# -- canned replies --------------------------------------------------------------
_VAR = re.compile(r"\{(\w+)\}")


def canned_replies(store: Store, settings: Settings) -> list[tuple[str, str]]:
    """(name, text): the config's `[[canned_replies]]` first, then the table's (same name: table wins)."""
    out: dict[str, str] = {c.name: c.text for c in settings.canned_replies}
    with store.read() as conn:
        for r in conn.execute(
            sa.select(canned_table.c.name, canned_table.c.text).order_by(canned_table.c.name)
        ):
            out[r.name] = r.text
    return list(out.items())


def save_canned(
    store: Store, name: str, text: str, *, actor: str, now: datetime | None = None
) -> None:
    """Create or replace a canned reply kept in the database."""
    now = now or utcnow()
    name, text = name.strip(), text.strip()
    if not name or not text:
        raise ValueError("a canned reply needs a name and a text")
    with store.write() as conn:
        before = conn.scalar(sa.select(canned_table.c.text).where(canned_table.c.name == name))
        ins = store.insert(canned_table).values(
            name=name, text=text, created_by=actor, created_at=now
        )
        conn.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"text": text}))
        write_audit(
            conn,
            actor=actor,
            mention_id=None,
            action="canned_save",
            before=None if before is None else {"name": name, "text": before},
            after={"name": name, "text": text},
            now=now,
        )


def render_canned(text: str, *, author: str, brand: str) -> str:
    """Fill `{author}` and `{brand}`; unknown `{variables}` stay visible; never raises."""
    values = {"author": author, "brand": brand}
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


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

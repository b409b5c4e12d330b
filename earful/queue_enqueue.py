"""Opening and reopening queue items for new mentions, inside the insert transaction.

`enqueue_new` (called by `earful.triage.enqueue`) and what it needs alone:
the one-query lookup of each conversation's newest item, the reopen rule and
the batched UPDATEs. The cut is here because this is the write path the
poller runs on every batch, tuned for a fixed number of statements per batch;
the UI's actions on one item stay in `earful.queue`, and the shared rules
(SLA targets, bands, audit rows) come from `earful.queue_rules`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import SLAConfig
from earful.models import Mention, as_utc
from earful.queue_rules import (
    REOPENABLE,
    SYSTEM_ACTOR,
    _audit,
    _sla_of,
    _snap,
    band_for,
    sla_target,
)
from earful.schema import (
    UTCDateTime,
    audit_log,
    mentions,
    queue_items,
    sqlite_utc_value,
)

if TYPE_CHECKING:
    from earful.store import Store

# -- enqueue (runs in the insert transaction) ----------------------------------
# Conversation keys per generic lookup query (3 bound parameters each: far below
# every dialect's limit).
_LOOKUP_CHUNK = 500


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

    Looked up by the whole key (ix_mentions_author_thread), so the rows read are
    the conversations' own items: neither an author's whole history (a regular,
    a bot) nor a whole thread (a busy Hacker News story with thousands of posts)
    is read. One statement on SQLite and PostgreSQL; one per `_LOOKUP_CHUNK`
    keys elsewhere. Rows come back from the driver as they are; only the
    winning row of each conversation gets its column types applied (the same
    result processors SQLAlchemy would run).
    """
    if not keys:
        return {}
    dialect = conn.dialect
    lookup = _LOOKUPS.get(dialect.name, _generic_rows)
    newest: dict[tuple[str, str, str], Any] = {}
    for r in lookup(conn, sorted(keys)):  # oldest first: the newest item of each wins
        key = (r[-3], r[-2], r[-1])
        if key in keys:  # always, unless a collation matched looser than Python does
            newest[key] = r
    procs = _item_processors(dialect)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, r in newest.items():
        item = dict(zip(_ITEM_KEYS, r, strict=False))
        for name, proc in procs:
            item[name] = proc(item[name])
        out[key] = item
    return out


# What every lookup returns, in the same order: the item's columns, then its key.
_SELECT = (
    "SELECT "
    + ", ".join(f"queue_items.{c.key}" for c in _ITEM_COLUMNS)
    + ", mentions.platform, mentions.thread_id, mentions.author"
)
# The rule every lookup shares: items not dismissed, oldest first, ties by mention id.
_ITEMS_NOT_DISMISSED = (
    " JOIN queue_items ON queue_items.mention_id = mentions.id"
    " WHERE queue_items.status != 'dismissed'"
    " ORDER BY queue_items.created_at, queue_items.mention_id"
)

# The keys bound as one JSON array of [platform, thread_id, author]; CROSS JOIN keeps
# them the outer loop, so each key is one probe of ix_mentions_author_thread.
_SQLITE_CONVERSATIONS = (
    _SELECT + " FROM json_each(?) AS k CROSS JOIN mentions"
    " ON mentions.platform = json_extract(k.value, '$[0]')"
    " AND mentions.author = json_extract(k.value, '$[2]')"
    " AND mentions.thread_id = json_extract(k.value, '$[1]')" + _ITEMS_NOT_DISMISSED
)

# One text array per key column, zipped by unnest (as the store's batch INSERT does).
_PG_CONVERSATIONS = (
    _SELECT + " FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(platform, thread_id, author)"
    " JOIN mentions ON mentions.platform = k.platform AND mentions.author = k.author"
    " AND mentions.thread_id = k.thread_id" + _ITEMS_NOT_DISMISSED
)


def _sqlite_rows(conn: Connection, keys: list[tuple[str, str, str]]) -> Iterable[Any]:
    return conn.exec_driver_sql(_SQLITE_CONVERSATIONS, (json.dumps(keys),))


def _pg_rows(conn: Connection, keys: list[tuple[str, str, str]]) -> Iterable[Any]:
    columns = tuple(list(col) for col in zip(*keys, strict=True))
    return conn.exec_driver_sql(_PG_CONVERSATIONS, columns)


def _generic_rows(conn: Connection, keys: list[tuple[str, str, str]]) -> Iterable[Any]:
    """Any other dialect: a tuple IN per chunk of keys (a conversation's rows share a chunk)."""
    dialect = conn.dialect
    key_cols = (mentions.c.platform, mentions.c.thread_id, mentions.c.author)
    rows: list[Any] = []
    for i in range(0, len(keys), _LOOKUP_CHUNK):
        stmt = (
            sa.select(*_ITEM_COLUMNS, *key_cols)
            .join(mentions, mentions.c.id == queue_items.c.mention_id)
            .where(
                sa.tuple_(*key_cols).in_(keys[i : i + _LOOKUP_CHUNK]),
                queue_items.c.status != "dismissed",
            )
            .order_by(queue_items.c.created_at, queue_items.c.mention_id)
        )
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        bound = compiled.params  # a property that builds the dict: read it once
        params: Any = (
            tuple(bound[k] for k in compiled.positiontup or ()) if compiled.positional else bound
        )
        rows.extend(conn.exec_driver_sql(compiled.string, params))
    return rows


_LOOKUPS: dict[str, Callable[[Connection, list[tuple[str, str, str]]], Iterable[Any]]] = {
    "sqlite": _sqlite_rows,
    "postgresql": _pg_rows,
}

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

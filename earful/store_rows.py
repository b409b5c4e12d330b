"""A mention's row as the driver receives it, and the per-dialect INSERTs that write a batch.

Part of `earful.store`. `_MENTION_COLUMNS` is the insert path's column order;
`_values` builds a mention's row in it, `_sqlite_values` the same row already
in SQLite's stored form (tests compare the two), `_bind_processors` and
`_processed` apply SQLAlchemy's bind processors to whole columns at once.
`_insert_new_sqlite` and `_insert_new_pg` write a batch and return the new
rows' ids, skipping known `(platform, external_id)`.

The cut is here because this is the ingest hot path below SQLAlchemy's
statement building, tuned per dialect (raw SQL, driver executemany, one
array per column), with nothing but a connection passed in; `Store` keeps
the transaction, the choice of path and what follows an insert (rollup,
reply queue, cursor).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.models import Mention
from earful.schema import UTCDateTime, json_text, mentions, sqlite_utc_text

# Bound parameters per statement: SQLite's default limit (999 before 3.32).
_SQLITE_MAX_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999

_MENTION_COLUMNS: tuple[str, ...] = (
    "platform",
    "external_id",
    "native_id",
    "source",
    "url",
    "author",
    "author_followers",
    "text",
    "raw",
    "created_at",
    "fetched_at",
    "lang",
    "in_reply_to",
    "thread_id",
    "engagement",
    "matched",
    "compound",
    "label",
    "intent",
    "needs_reply",
    "reason",
    "priority",
    "is_demo",
)


def _pg_array_type(column: sa.Column[Any]) -> str:
    t = column.type
    if isinstance(t, UTCDateTime):
        return "timestamp[]"
    if isinstance(t, sa.Boolean):
        return "boolean[]"
    if isinstance(t, sa.Integer):
        return "bigint[]"
    if isinstance(t, sa.Float):
        return "float8[]"
    return "text[]"


_PG_INSERT_MENTIONS = (
    f"INSERT INTO mentions ({', '.join(_MENTION_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_pg_array_type(mentions.c[c])}" for c in _MENTION_COLUMNS)
    + ") ON CONFLICT (platform, external_id) DO NOTHING RETURNING id, platform, external_id"
)


def _values(m: Mention, now: datetime) -> tuple[Any, ...]:
    """A mention's row, in `_MENTION_COLUMNS` order."""
    return (
        m.platform,
        m.external_id,
        m.native_id,
        m.source,
        m.url,
        m.author,
        m.author_followers,
        m.text,
        m.raw,
        m.created_at,
        m.fetched_at or now,
        m.lang,
        m.in_reply_to,
        m.thread_id,
        m.engagement,
        m.matched,
        m.compound,
        m.label,
        m.intent,
        m.needs_reply,
        m.reason,
        m.priority,
        m.is_demo,
    )


def _sqlite_values(m: Mention, now_text: str | None) -> tuple[Any, ...]:
    """`_values(m, now)` with SQLite's bind processors applied (tests compare the two):
    UTC timestamps as text, `raw` as JSON text; sqlite3 stores booleans as 0/1 itself."""
    return (
        m.platform,
        m.external_id,
        m.native_id,
        m.source,
        m.url,
        m.author,
        m.author_followers,
        m.text,
        None if m.raw is None else json_text(m.raw),
        sqlite_utc_text(m.created_at),
        now_text if m.fetched_at is None else sqlite_utc_text(m.fetched_at),
        m.lang,
        m.in_reply_to,
        m.thread_id,
        m.engagement,
        m.matched,
        m.compound,
        m.label,
        m.intent,
        m.needs_reply,
        m.reason,
        m.priority,
        m.is_demo,
    )


def _bind_processors(
    table: sa.Table, columns: Sequence[str], dialect: Any
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, processor) for the columns whose type converts values on the way in."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        col_type = table.c[name].type
        if dialect.name == "sqlite" and isinstance(col_type, UTCDateTime):
            out.append((i, sqlite_utc_text))  # same text, a quarter of the cost
            continue
        proc = col_type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            out.append((i, proc))
    return out


def _processed(
    rows: Sequence[tuple[Any, ...]], procs: Sequence[tuple[int, Callable[[Any], Any]]]
) -> list[tuple[Any, ...]]:
    """Rows with the bind processors applied (column by column: one loop per processor)."""
    if not procs or not rows:
        return list(rows)
    cols = [list(c) for c in zip(*rows, strict=True)]
    for i, proc in procs:
        col = cols[i]
        if isinstance(col[0], datetime):  # rows of a page share their write time: convert once
            once = {v: proc(v) for v in dict.fromkeys(col)}
            cols[i] = [once[v] for v in col]
        else:
            cols[i] = [proc(v) for v in col]
    return list(zip(*cols, strict=True))


def _insert_new_sqlite(
    conn: Connection, params: Sequence[tuple[Any, ...]]
) -> dict[tuple[str, str], int]:
    """SQLite: multi-row VALUES ... RETURNING, rows already in their stored form.

    Chunked under SQLite's bound-parameter limit; the new rows' ids by
    (platform, external_id), and the full-text index fed for them.
    """
    width = len(_MENTION_COLUMNS)
    per = max(1, min(1000, _SQLITE_MAX_VARIABLES // width))
    group = "(" + ", ".join("?" * width) + ")"
    out: dict[tuple[str, str], int] = {}
    for i in range(0, len(params), per):
        chunk = params[i : i + per]
        sql = (
            f"INSERT INTO mentions ({', '.join(_MENTION_COLUMNS)}) VALUES "
            + ", ".join([group] * len(chunk))
            + " ON CONFLICT (platform, external_id) DO NOTHING"
            " RETURNING id, platform, external_id"
        )
        flat = tuple(chain.from_iterable(chunk))
        for rid, platform, external_id in conn.exec_driver_sql(sql, flat):
            out[(platform, external_id)] = rid
    if out:
        # The full-text index, in one statement (migration 8). Every id in the
        # range is a row inserted just now: SQLite hands out ids above every
        # existing one, and BEGIN IMMEDIATE keeps other writers out.
        conn.exec_driver_sql(
            "INSERT INTO mentions_fts (rowid, text)"
            " SELECT id, text FROM mentions WHERE id BETWEEN ? AND ?",
            (min(out.values()), max(out.values())),
        )
    return out


def _insert_new_pg(conn: Connection, params: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
    """PostgreSQL: one INSERT ... SELECT FROM unnest(one array per column) per batch.

    The same rows and conflict rule as the generic path, in one short statement:
    a multi-row VALUES of thousands of rows cost more in the driver's parsing of
    its placeholders than in the server.
    """
    if not params:
        return {}
    arrays = tuple(list(col) for col in zip(*params, strict=True))
    rows = conn.exec_driver_sql(_PG_INSERT_MENTIONS, arrays)
    return {(platform, external_id): rid for rid, platform, external_id in rows}

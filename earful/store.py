"""The store: engine setup, migrations, idempotent writes and the hourly rollup.

SQLite (default, `sqlite:///data/earful.db`) runs in WAL mode with a busy
timeout so the dashboard reads while the worker writes; write transactions
start with BEGIN IMMEDIATE so two writers queue instead of failing.
PostgreSQL (`postgresql+psycopg://...`) runs the same code and tests.

Writes are idempotent: `(platform, external_id)` is unique and inserts skip
duplicates; the rollup and the reply queue are updated from the rows that
were really inserted, in the same transaction, and a listener's cursor moves
in that same transaction too.
"""

from __future__ import annotations

import operator
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from earful.models import Mention, utcnow
from earful.schema import (
    MIGRATIONS,
    UTCDateTime,
    cursors,
    json_text,
    mentions,
    queue_items,
    rollup_hourly,
    schema_migrations,
    sqlite_utc_text,
)

DEFAULT_DATABASE_URL = "sqlite:///data/earful.db"
Clock = Callable[[], datetime]


def database_url(explicit: str | None = None) -> str:
    """`--db` beats `EARFUL_DATABASE_URL` beats the embedded default."""
    return explicit or os.environ.get("EARFUL_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(url: str) -> Engine:
    """An engine tuned for the dialect: WAL + busy timeout + BEGIN IMMEDIATE on SQLite."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(u, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("earful_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return sa.create_engine(u, pool_pre_ping=True)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def hour_of(dt: datetime) -> datetime:
    """The UTC hour a time falls in (an aware time in another zone is converted first:
    14:45+05:30 is in the 09:00 UTC hour, not at 08:30 UTC)."""
    if dt.tzinfo is not None and dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class SaveResult:
    inserted: int
    duplicates: int
    inserted_ids: tuple[int, ...] = ()


class Store:
    """One database. Cheap to construct once per process; thread-safe through the engine pool."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = database_url(url)
        self.engine = engine or make_engine(self.url)
        self.dialect = self.engine.dialect.name
        # SLA targets for queue items opened by this process (earful.queue.attach_settings);
        # None means the defaults of earful.config.SLAConfig.
        self.sla: Any = None
        self._bulk_cache: dict[tuple[str, tuple[str, ...], bool], Any] = {}
        self._mention_procs: list[tuple[int, Any]] | None = None

    # -- transactions -------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(earful_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def insert(self, table: sa.Table) -> Any:
        """A dialect-specific INSERT that supports on_conflict_*."""
        return _insert(self.dialect, table)

    # -- migrations ---------------------------------------------------------
    def applied_versions(self) -> set[int]:
        with self.read() as conn:
            if not sa.inspect(conn).has_table("schema_migrations"):
                return set()
            return set(conn.scalars(sa.select(schema_migrations.c.version)))

    def upgrade(self, clock: Clock = utcnow) -> list[str]:
        """Apply missing migrations in order; return the names applied (empty when current)."""
        with self.write() as conn:
            schema_migrations.create(conn, checkfirst=True)
        done: list[str] = []
        for version, name, fn in MIGRATIONS:
            with self.write() as conn:
                if self.dialect == "postgresql":  # one upgrader at a time across workers
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
                exists = conn.scalar(
                    sa.select(schema_migrations.c.version).where(
                        schema_migrations.c.version == version
                    )
                )
                if exists is not None:
                    continue
                fn(conn)
                conn.execute(
                    schema_migrations.insert().values(
                        version=version, name=name, applied_at=clock()
                    )
                )
                done.append(f"{version}: {name}")
        return done

    def is_current(self) -> bool:
        return self.applied_versions() >= {v for v, _, _ in MIGRATIONS}

    # -- lean bulk writes ----------------------------------------------------
    def bulk_insert(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        skip_conflicts: bool = False,
    ) -> None:
        """INSERT rows (dicts with the same keys) with one driver executemany.

        The same SQL and bind processors (UTC datetimes, JSON text, booleans)
        as `conn.execute(table.insert(), rows)`, without SQLAlchemy's per-row
        parameter building, which at ingest rates costs more than the insert.
        `skip_conflicts` adds ON CONFLICT DO NOTHING.
        """
        if not rows:
            return
        columns = tuple(rows[0])
        sql, getter, procs, names = self._bulk_sql(table, columns, skip_conflicts)
        params = _processed([getter(r) for r in rows], procs)
        if names is None:  # positional paramstyle (SQLite's qmark)
            conn.exec_driver_sql(sql, params)
        else:
            conn.exec_driver_sql(sql, [dict(zip(names, v, strict=True)) for v in params])

    def _bulk_sql(
        self, table: sa.Table, columns: tuple[str, ...], skip_conflicts: bool
    ) -> tuple[
        str, Callable[[Any], tuple[Any, ...]], list[tuple[int, Any]], tuple[str, ...] | None
    ]:
        """Per statement, compiled once: SQL, row -> values in the SQL's order, bind
        processors, and the parameter names (None for a positional paramstyle)."""
        key = (table.name, columns, skip_conflicts)
        cached = self._bulk_cache.get(key)
        if cached is not None:
            return cached
        stmt = self.insert(table)
        if skip_conflicts:
            stmt = stmt.on_conflict_do_nothing()
        dialect = self.engine.dialect
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        positional = bool(compiled.positional)
        order = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        if sorted(order) != sorted(columns):
            raise ValueError(f"cannot bulk insert {columns} into {table.name}")

        def getter(row: Mapping[str, Any]) -> tuple[Any, ...]:
            return tuple(row[k] for k in order)

        if len(order) > 1:
            getter = operator.itemgetter(*order)  # type: ignore[assignment]  # C speed
        out = (
            compiled.string,
            getter,
            _bind_processors(table, order, dialect),
            None if positional else order,
        )
        self._bulk_cache[key] = out
        return out

    # -- mentions -----------------------------------------------------------
    def insert_mentions(
        self, conn: Connection, batch: Sequence[Mention], *, now: datetime | None = None
    ) -> SaveResult:
        """Insert new mentions, skip known ones; update the rollup and queue for the new ones."""
        now = now or utcnow()
        unique: dict[tuple[str, str], Mention] = {}
        for m in batch:
            if m.matched is None or m.label is None:
                raise ValueError(f"mention {m.platform}:{m.external_id} was not enriched")
            unique.setdefault((m.platform, m.external_id), m)
        if not unique:
            return SaveResult(0, len(batch))
        if self.dialect == "sqlite":  # rows in their stored form, built in one pass
            now_text = sqlite_utc_text(now)
            ids = self._insert_new(
                conn, [_sqlite_values(m, now_text) for m in unique.values()], processed=True
            )
        else:
            ids = self._insert_new(conn, [_values(m, now) for m in unique.values()])
        # In the batch's order (RETURNING promises no order).
        new = [(ids[k], m) for k, m in unique.items() if k in ids]
        if new:
            self._add_to_rollup(conn, [m for _, m in new])
            self._enqueue(conn, new, now)
        return SaveResult(len(new), len(batch) - len(new), tuple(i for i, _ in new))

    def _insert_new(
        self, conn: Connection, values: list[tuple[Any, ...]], *, processed: bool = False
    ) -> dict[tuple[str, str], int]:
        """INSERT the rows, skipping known (platform, external_id); the new rows' ids.

        SQLite: multi-row VALUES ... RETURNING written here, rows as tuples with
        SQLAlchemy's bind processors applied once per value (or already in their
        stored form: `processed`, from `_sqlite_values`). Other dialects:
        SQLAlchemy's insertmanyvalues, same SQL semantics.
        """
        if self._mention_procs is None:
            self._mention_procs = _bind_processors(mentions, _MENTION_COLUMNS, self.engine.dialect)
        if self.dialect == "postgresql":
            return self._insert_new_pg(conn, _processed(values, self._mention_procs))
        if self.dialect != "sqlite":
            stmt = (
                self.insert(mentions)
                .on_conflict_do_nothing(index_elements=["platform", "external_id"])
                .returning(mentions.c.id, mentions.c.platform, mentions.c.external_id)
            )
            rows = [dict(zip(_MENTION_COLUMNS, v, strict=True)) for v in values]
            return {(r.platform, r.external_id): r.id for r in conn.execute(stmt, rows)}
        params = values if processed else _processed(values, self._mention_procs)
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

    def _insert_new_pg(
        self, conn: Connection, params: list[tuple[Any, ...]]
    ) -> dict[tuple[str, str], int]:
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

    def _add_to_rollup(self, conn: Connection, new: Sequence[Mention]) -> None:
        if self.dialect == "sqlite":
            self._add_to_sqlite_rollup(conn, new)
            return
        agg: dict[tuple[datetime, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for m in new:
            a = agg[(hour_of(m.created_at), m.matched or "", m.platform, m.label or "unscored")]
            a[0] += 1
            a[1] += m.compound or 0.0
        ins = self.insert(rollup_hourly)
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

    def _add_to_sqlite_rollup(self, conn: Connection, new: Sequence[Mention]) -> None:
        """`_add_to_rollup` on SQLite: hours keyed by their stored text (a slice of the
        timestamp's text, no datetime arithmetic), one driver executemany."""
        agg: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for m in new:
            text = sqlite_utc_text(m.created_at) or ""
            a = agg[
                (text[:13] + _SQLITE_HOUR_TAIL, m.matched or "", m.platform, m.label or "unscored")
            ]
            a[0] += 1
            a[1] += m.compound or 0.0
        conn.exec_driver_sql(
            _SQLITE_ROLLUP, [(*k, int(v[0]), v[1]) for k, v in sorted(agg.items())]
        )

    def _enqueue(self, conn: Connection, new: Sequence[tuple[int, Mention]], now: datetime) -> None:
        from earful import triage  # late: triage imports the store's tables

        triage.enqueue(conn, self, new, now)

    def save_page(
        self,
        source: str,
        query_key: str,
        batch: Sequence[Mention],
        cursor: dict[str, Any] | None,
        *,
        now: datetime | None = None,
        conn: Connection | None = None,
    ) -> SaveResult:
        """Store a page of mentions and move the cursor in one transaction."""
        now = now or utcnow()
        if conn is not None:
            return self._save_page(conn, source, query_key, batch, cursor, now)
        with self.write() as c:
            return self._save_page(c, source, query_key, batch, cursor, now)

    def _save_page(
        self,
        conn: Connection,
        source: str,
        query_key: str,
        batch: Sequence[Mention],
        cursor: dict[str, Any] | None,
        now: datetime,
    ) -> SaveResult:
        result = self.insert_mentions(conn, batch, now=now)
        if cursor is not None:
            self.set_cursor(conn, source, query_key, cursor, now)
        return result

    # -- cursors ------------------------------------------------------------
    def set_cursor(
        self, conn: Connection, source: str, query_key: str, cursor: dict[str, Any], now: datetime
    ) -> None:
        ins = self.insert(cursors).values(
            source=source, query_key=query_key, cursor=cursor, updated_at=now
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=["source", "query_key"],
                set_={"cursor": ins.excluded.cursor, "updated_at": ins.excluded.updated_at},
            )
        )

    def get_cursor(self, source: str, query_key: str) -> dict[str, Any] | None:
        with self.read() as conn:
            return conn.scalar(
                sa.select(cursors.c.cursor).where(
                    cursors.c.source == source, cursors.c.query_key == query_key
                )
            )

    # -- simple reads -------------------------------------------------------
    def count_mentions(self) -> int:
        with self.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(mentions)) or 0)

    def queue_size(self) -> int:
        with self.read() as conn:
            return int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(queue_items)
                    .where(queue_items.c.status == "open")
                )
                or 0
            )


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


# An hour as UTCDateTime stores it on SQLite: "YYYY-MM-DD HH" + this.
_SQLITE_HOUR_TAIL = ":00:00.000000"
_SQLITE_ROLLUP = (
    "INSERT INTO rollup_hourly (hour, matched, platform, label, n, compound_sum)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hour, matched, platform, label) DO UPDATE"
    " SET n = rollup_hourly.n + excluded.n,"
    " compound_sum = rollup_hourly.compound_sum + excluded.compound_sum"
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


__all__ = ["Store", "SaveResult", "database_url", "make_engine", "hour_of", "rebuild_rollup"]

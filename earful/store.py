"""The store: engine setup, migrations, idempotent writes and the hourly rollup.

SQLite (default, `sqlite:///data/earful.db`) runs in WAL mode with a busy
timeout so the dashboard reads while the worker writes; write transactions
start with BEGIN IMMEDIATE so two writers queue instead of failing.
PostgreSQL (`postgresql+psycopg://...`) runs the same code and tests.

Writes are idempotent: `(platform, external_id)` is unique and inserts skip
duplicates; the rollup and the reply queue are updated from the rows that
were really inserted, in the same transaction, and a listener's cursor moves
in that same transaction too.

This module keeps `Store`: transactions, migrations, the write sequence of
a batch and the cursors. A mention's row and the per-dialect INSERTs are in
`earful.store_rows`; the hourly rollup's upkeep and repair (`hour_of`,
`rebuild_rollup`, re-exported here) in `earful.store_rollup`.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from earful.migrations import MIGRATIONS
from earful.models import Mention, utcnow
from earful.schema import (
    cursors,
    mentions,
    queue_items,
    schema_migrations,
    sqlite_utc_text,
)
from earful.store_rollup import add_to_rollup, hour_of, rebuild_rollup
from earful.store_rows import (
    _MENTION_COLUMNS,
    _bind_processors,
    _insert_new_pg,
    _insert_new_sqlite,
    _processed,
    _sqlite_values,
    _values,
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
            add_to_rollup(conn, self, [m for _, m in new])
            self._enqueue(conn, new, now)
        return SaveResult(len(new), len(batch) - len(new), tuple(i for i, _ in new))

    def _insert_new(
        self, conn: Connection, values: list[tuple[Any, ...]], *, processed: bool = False
    ) -> dict[tuple[str, str], int]:
        """INSERT the rows, skipping known (platform, external_id); the new rows' ids.

        SQLite: multi-row VALUES ... RETURNING (`earful.store_rows`), rows as tuples
        with SQLAlchemy's bind processors applied once per value (or already in
        their stored form: `processed`, from `_sqlite_values`). PostgreSQL: one
        INSERT from unnest. Other dialects: SQLAlchemy's insertmanyvalues, same
        SQL semantics.
        """
        if self._mention_procs is None:
            self._mention_procs = _bind_processors(mentions, _MENTION_COLUMNS, self.engine.dialect)
        if self.dialect == "postgresql":
            return _insert_new_pg(conn, _processed(values, self._mention_procs))
        if self.dialect != "sqlite":
            stmt = (
                self.insert(mentions)
                .on_conflict_do_nothing(index_elements=["platform", "external_id"])
                .returning(mentions.c.id, mentions.c.platform, mentions.c.external_id)
            )
            rows = [dict(zip(_MENTION_COLUMNS, v, strict=True)) for v in values]
            return {(r.platform, r.external_id): r.id for r in conn.execute(stmt, rows)}
        params = values if processed else _processed(values, self._mention_procs)
        return _insert_new_sqlite(conn, params)

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


__all__ = ["Store", "SaveResult", "database_url", "make_engine", "hour_of", "rebuild_rollup"]

"""Tables (SQLAlchemy Core) and the ordered list of schema migrations.

Migrations are an ordered list of (version, name, function) recorded in
`schema_migrations`; `earful db upgrade` applies the missing ones, each in its
own transaction, and is idempotent. Append new migrations; never edit old ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC, returns tz-aware UTC, on every dialect."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What `UTCDateTime` stores on SQLite, in one C call: naive UTC text with microseconds.

    Equal to SQLAlchemy's chain (`process_bind_param`, then SQLite DATETIME's
    "%Y-%m-%d %H:%M:%S.%f" format); tests compare the two.
    """
    if value is None:
        return None
    tz = value.tzinfo
    if tz is None:
        raise ValueError("naive datetime given to a UTC column")
    if tz is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_utc_value(value: str | None) -> datetime | None:
    """`UTCDateTime`'s result on SQLite from its stored text, in one C call.

    Equal to SQLAlchemy's chain (SQLite DATETIME's regex parse, then
    `process_result_value`) for the text this type writes; tests compare them.
    """
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# orjson writes what json.dumps(ensure_ascii=False, compact, default=str) writes, about
# ten times faster; datetimes and dataclasses go through `default=str` as before.
_ORJSON_OPTS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_text(value: Any) -> str | None:
    """The JSON text `JSONText` stores (None stays NULL)."""
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits, NaN keys...
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class JSONText(sa.types.TypeDecorator[Any]):
    """JSON kept as text: portable, and exactly what was received (audit)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return json_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

mentions = sa.Table(
    "mentions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("native_id", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("url", sa.Text, nullable=False, server_default=""),
    sa.Column("author", sa.Text, nullable=False, server_default=""),
    sa.Column("author_followers", sa.Integer),
    sa.Column("text", sa.Text, nullable=False, server_default=""),
    sa.Column("raw", JSONText),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    sa.Column("lang", sa.String(16)),
    sa.Column("in_reply_to", sa.Text),
    sa.Column("thread_id", sa.Text),
    sa.Column("engagement", sa.Integer, nullable=False, server_default="0"),
    sa.Column("matched", sa.Text, nullable=False),
    sa.Column("compound", sa.Float),
    sa.Column("label", sa.String(10), nullable=False),
    sa.Column("intent", sa.String(12)),
    sa.Column("needs_reply", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text),
    sa.Column("priority", sa.Float, nullable=False, server_default="0"),
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("platform", "external_id", name="uq_mentions_platform_external_id"),
    sa.Index("ix_mentions_created_at", "created_at"),
    sa.Index("ix_mentions_matched_created_at", "matched", "created_at"),
    # migration 9: was ix_mentions_author (platform, author); the queue's conversation
    # lookup needs the whole key, author history reads its prefix
    sa.Index("ix_mentions_author_thread", "platform", "author", "thread_id"),
    sa.Index("ix_mentions_thread", "platform", "thread_id"),
)

# Hour x entity x platform x label. Charts read this, never raw mentions.
rollup_hourly = sa.Table(
    "rollup_hourly",
    metadata,
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("matched", sa.Text, primary_key=True),
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("label", sa.String(10), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("compound_sum", sa.Float, nullable=False),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("query_key", sa.Text, primary_key=True),
    sa.Column("cursor", JSONText),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

source_health = sa.Table(
    "source_health",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("last_attempt", UTCDateTime),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("error_kind", sa.String(32)),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("rate_limited_until", UTCDateTime),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("items_last_poll", sa.Integer, nullable=False, server_default="0"),
    sa.Column("items_today", sa.Integer, nullable=False, server_default="0"),
    sa.Column("today", sa.String(10)),
    sa.Column("skipped_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_poll", UTCDateTime),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UTCDateTime),
)

queue_items = sa.Table(
    "queue_items",
    metadata,
    sa.Column("mention_id", BigId, sa.ForeignKey("mentions.id"), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False, server_default="open"),
    sa.Column("assignee", sa.Text),
    sa.Column("priority", sa.Float, nullable=False, server_default="0"),
    sa.Column("band", sa.String(8), nullable=False, server_default="normal"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("waiting_since", UTCDateTime, nullable=False),
    sa.Column("sla_due_at", UTCDateTime),
    sa.Column("first_reply_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("snoozed_until", UTCDateTime),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_by", sa.Text),
    sa.Column("updated_at", UTCDateTime),
)
# The queue's own order within a status: the list reads its first page straight off
# this index instead of sorting every open item (migration 10).
sa.Index(
    "ix_queue_order",
    queue_items.c.status,
    queue_items.c.priority.desc(),
    queue_items.c.waiting_since,
    queue_items.c.mention_id,
)

queue_notes = sa.Table(
    "queue_notes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("mention_id", BigId, sa.ForeignKey("mentions.id"), nullable=False, index=True),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("mention_id", BigId, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("before", JSONText),
    sa.Column("after", JSONText),
)

replies = sa.Table(
    "replies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("mention_id", BigId, sa.ForeignKey("mentions.id"), nullable=False, index=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    # intent -> sent | unknown | failed; manual for "replied manually"
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("platform_reply_id", sa.Text),
    sa.Column("reply_url", sa.Text),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("error", sa.Text),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(24), nullable=False),  # volume_spike | negative_spike | gap
    sa.Column("subject", sa.Text, nullable=False),  # entity name or source name
    sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("baseline", sa.Float),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", JSONText),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("delivery_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("delivery_error", sa.Text),
    sa.Index("ix_alerts_created_at", "created_at"),
)

canned_replies = sa.Table(
    "canned_replies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


# Coarser rollups kept by database triggers on rollup_hourly (migration 6), so a
# year of trends reads tens of thousands of rows instead of ~700,000.
rollup_entity_hourly = sa.Table(
    "rollup_entity_hourly",
    metadata,
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("matched", sa.Text, primary_key=True),
    sa.Column("label", sa.String(10), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("compound_sum", sa.Float, nullable=False),
)

rollup_daily = sa.Table(  # day = UTC midnight
    "rollup_daily",
    metadata,
    sa.Column("day", UTCDateTime, primary_key=True),
    sa.Column("matched", sa.Text, primary_key=True),
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("label", sa.String(10), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("compound_sum", sa.Float, nullable=False),
)


def _create(*tables: sa.Table) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for t in tables:
            t.create(conn, checkfirst=True)

    return run


def _dashboard_indexes(conn: Connection) -> None:
    """Indexes the dashboard's bounded reads lean on (demo label, filters, queue KPIs)."""
    for name, table, cols in (
        ("ix_mentions_is_demo", "mentions", "is_demo, created_at"),
        ("ix_mentions_platform_created_at", "mentions", "platform, created_at"),
        ("ix_mentions_lang", "mentions", "lang"),
        ("ix_queue_first_reply_at", "queue_items", "first_reply_at"),
        ("ix_queue_waiting_since", "queue_items", "waiting_since"),
    ):
        # plain DDL: an sa.Index here would attach itself to the Table objects
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")


_SQLITE_DAY = "substr({h}, 1, 10) || ' 00:00:00.000000'"  # UTCDateTime's stored text form


def _fanout_sql(dialect: str, op: str, row: str) -> list[str]:
    """SQL adding (op '+') or removing (op '-') one rollup_hourly row in the coarser rollups."""
    day = (
        _SQLITE_DAY.format(h=f"{row}.hour")
        if dialect == "sqlite"
        else f"date_trunc('day', {row}.hour)"
    )
    if op == "-":
        return [
            f"UPDATE rollup_entity_hourly SET n = n - {row}.n, compound_sum = compound_sum - "
            f"{row}.compound_sum WHERE hour = {row}.hour AND matched = {row}.matched "
            f"AND label = {row}.label",
            f"UPDATE rollup_daily SET n = n - {row}.n, compound_sum = compound_sum - "
            f"{row}.compound_sum WHERE day = {day} AND matched = {row}.matched "
            f"AND platform = {row}.platform AND label = {row}.label",
        ]
    return [
        f"INSERT INTO rollup_entity_hourly (hour, matched, label, n, compound_sum) "
        f"VALUES ({row}.hour, {row}.matched, {row}.label, {row}.n, {row}.compound_sum) "
        f"ON CONFLICT (hour, matched, label) DO UPDATE SET n = rollup_entity_hourly.n + "
        f"excluded.n, compound_sum = rollup_entity_hourly.compound_sum + excluded.compound_sum",
        f"INSERT INTO rollup_daily (day, matched, platform, label, n, compound_sum) "
        f"VALUES ({day}, {row}.matched, {row}.platform, {row}.label, {row}.n, {row}.compound_sum) "
        f"ON CONFLICT (day, matched, platform, label) DO UPDATE SET n = rollup_daily.n + "
        f"excluded.n, compound_sum = rollup_daily.compound_sum + excluded.compound_sum",
    ]


def _coarse_rollups(conn: Connection) -> None:
    """rollup_entity_hourly and rollup_daily, backfilled, then kept current by triggers."""
    d = conn.dialect.name
    if d == "postgresql":  # no rollup writes between the backfill and the trigger
        conn.exec_driver_sql("LOCK TABLE rollup_hourly IN SHARE ROW EXCLUSIVE MODE")
    rollup_entity_hourly.create(conn, checkfirst=True)
    rollup_daily.create(conn, checkfirst=True)
    day = _SQLITE_DAY.format(h="hour") if d == "sqlite" else "date_trunc('day', hour)"
    conn.exec_driver_sql(
        "INSERT INTO rollup_entity_hourly (hour, matched, label, n, compound_sum) "
        "SELECT hour, matched, label, SUM(n), SUM(compound_sum) FROM rollup_hourly "
        "GROUP BY hour, matched, label"
    )
    conn.exec_driver_sql(
        "INSERT INTO rollup_daily (day, matched, platform, label, n, compound_sum) "
        f"SELECT {day}, matched, platform, label, SUM(n), SUM(compound_sum) FROM rollup_hourly "
        f"GROUP BY {day}, matched, platform, label"
    )
    if d == "sqlite":
        for name, event, parts in (
            ("ins", "INSERT", _fanout_sql(d, "+", "NEW")),
            ("upd", "UPDATE", _fanout_sql(d, "-", "OLD") + _fanout_sql(d, "+", "NEW")),
            ("del", "DELETE", _fanout_sql(d, "-", "OLD")),
        ):
            body = ";\n".join(parts)
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS trg_rollup_hourly_{name} AFTER {event} "
                f"ON rollup_hourly BEGIN\n{body};\nEND"
            )
        return
    sub = ";\n    ".join(_fanout_sql(d, "-", "OLD"))
    add = ";\n    ".join(_fanout_sql(d, "+", "NEW"))
    conn.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION earful_rollup_fanout() RETURNS trigger AS $$\n"
        "BEGIN\n"
        f"  IF TG_OP IN ('UPDATE', 'DELETE') THEN\n    {sub};\n  END IF;\n"
        f"  IF TG_OP IN ('INSERT', 'UPDATE') THEN\n    {add};\n  END IF;\n"
        "  RETURN NULL;\nEND $$ LANGUAGE plpgsql"
    )
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS trg_rollup_fanout ON rollup_hourly")
    conn.exec_driver_sql(
        "CREATE TRIGGER trg_rollup_fanout AFTER INSERT OR UPDATE OR DELETE ON rollup_hourly "
        "FOR EACH ROW EXECUTE FUNCTION earful_rollup_fanout()"
    )


def _followers_index(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_mentions_followers ON mentions (author_followers)"
    )


def _search_and_intent(conn: Connection) -> None:
    """Complaints by time (index), and on SQLite a full-text index of mention text (FTS5)."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_mentions_intent_created_at ON mentions (intent, created_at)"
    )
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL searches with LIKE on lower(text)
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS mentions_fts USING fts5("
        "text, content='mentions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    conn.exec_driver_sql("INSERT INTO mentions_fts(mentions_fts) VALUES ('rebuild')")
    for name, body in (
        ("ai AFTER INSERT", "INSERT INTO mentions_fts(rowid, text) VALUES (new.id, new.text)"),
        (
            "ad AFTER DELETE",
            "INSERT INTO mentions_fts(mentions_fts, rowid, text) VALUES ('delete', old.id, old.text)",
        ),
        (
            "au AFTER UPDATE OF text",
            "INSERT INTO mentions_fts(mentions_fts, rowid, text) VALUES ('delete', old.id, old.text);"
            " INSERT INTO mentions_fts(rowid, text) VALUES (new.id, new.text)",
        ),
    ):
        suffix, event = name.split(" ", 1)
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS trg_mentions_fts_{suffix} {event} ON mentions "
            f"BEGIN {body}; END"
        )


def _fts_by_batch(conn: Connection) -> None:
    """SQLite: new mentions reach the full-text index once per batch, not by a row trigger.

    FTS5 fed from an AFTER INSERT trigger costs about 20 us per row (each
    trigger statement is its own FTS5 write); one `INSERT INTO mentions_fts
    SELECT ...` per batch costs under 3. `Store.insert_mentions` now indexes
    the rows it inserted, in the same transaction. Updates and deletes keep
    their triggers (rare: purged Reddit posts, retention).
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS trg_mentions_fts_ai")


def _author_thread_index(conn: Connection) -> None:
    """The author index extended by thread_id: (platform, author, thread_id).

    The queue finds a new post's conversation by that whole key. Through
    (platform, author) alone it read every queue item of every author in the
    batch, a cost growing with each author's history (ingest slowed from
    ~2,900 to ~440 mentions/s over a million demo mentions). The prefix still
    serves the author-history reads. A fresh database gets this index from the
    table (migration 1); here older ones do, and lose the narrower index.
    """
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_mentions_author_thread "
        "ON mentions (platform, author, thread_id)"
    )
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_mentions_author")


def _queue_order_index(conn: Connection) -> None:
    """The queue's listing order as an index: (status, priority DESC, waiting_since, mention_id).

    `list_queue` sorted every item of the wanted statuses to show the first 50:
    1.4 s with 320,000 open items. Read per status off this index it stops after
    the page (0.3 ms). The status prefix still serves the counts. A fresh
    database gets this index from the table (migration 2); here older ones do,
    and lose ix_queue_status_priority.
    """
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_queue_order "
        "ON queue_items (status, priority DESC, waiting_since, mention_id)"
    )
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_queue_status_priority")


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (
        1,
        "mentions, hourly rollup, cursors, source health",
        _create(mentions, rollup_hourly, cursors, source_health),
    ),
    (
        2,
        "reply queue, notes, audit log, replies",
        _create(queue_items, queue_notes, audit_log, replies),
    ),
    (3, "alerts and canned replies", _create(alerts, canned_replies)),
    (4, "dashboard read indexes", _dashboard_indexes),
    (5, "mentions by audience (top authors by reach)", _followers_index),
    (6, "entity-hourly and daily rollups kept by triggers", _coarse_rollups),
    (7, "complaints-by-time index and full-text search of mentions", _search_and_intent),
    (8, "full-text index fed per batch instead of per row", _fts_by_batch),
    (9, "author index extended by thread (conversation lookup)", _author_thread_index),
    (10, "reply queue listed in index order", _queue_order_index),
]

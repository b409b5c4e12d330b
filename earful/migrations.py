"""Schema migrations: an ordered list of (version, name, function), recorded in `schema_migrations`.

`earful db upgrade` (`Store.upgrade`) applies the missing ones, each in its own
transaction, and is idempotent. Append new migrations; never edit old ones.

The cut is here because the tables (`earful.schema`) say what a fresh database
looks like, while this list says how every older database got there (triggers,
plain-DDL indexes, backfills); only the migrations runner in `earful.store`
reads it. This module imports the tables, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.schema import (
    alerts,
    audit_log,
    canned_replies,
    cursors,
    mentions,
    queue_items,
    queue_notes,
    replied_purged,
    replies,
    rollup_daily,
    rollup_entity_hourly,
    rollup_hourly,
    source_health,
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
    (11, "posts replied to and then purged (no second reply)", _create(replied_purged)),
]

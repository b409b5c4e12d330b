"""Tables (SQLAlchemy Core): what a fresh database holds.

The column types live in `earful.coltypes` and are re-exported here (importers
use `from earful.schema import UTCDateTime, json_text, ...`). The ordered list
of migrations that brings any database to these tables, recorded in
`schema_migrations`, lives in `earful.migrations`.

The cut is here because the tables are what every reader and writer imports,
while the migrations (triggers, backfills, indexes older databases lacked)
matter only to `earful db upgrade`; `earful.migrations` imports this module,
never the other way round, so there is no cycle.
"""

from __future__ import annotations

import sqlalchemy as sa

from earful.coltypes import BigId as BigId
from earful.coltypes import JSONText as JSONText
from earful.coltypes import UTCDateTime as UTCDateTime
from earful.coltypes import json_text as json_text
from earful.coltypes import sqlite_utc_text as sqlite_utc_text
from earful.coltypes import sqlite_utc_value as sqlite_utc_value

metadata = sa.MetaData()

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

# Posts we had replied to when they were purged as deleted at the source (earful.purge):
# ids only, no content. If such a post comes back (a removal reversed) and is stored
# again under a new mention id, the send path finds it here and does not reply twice.
replied_purged = sa.Table(
    "replied_purged",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("purged_at", UTCDateTime, nullable=False),
    sa.Column("replies", sa.Integer, nullable=False),  # reply records it had (sent, manual...)
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

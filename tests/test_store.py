"""Store tests, on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from earful.migrations import MIGRATIONS
from earful.models import Mention
from earful.schema import mentions, queue_items, rollup_hourly, schema_migrations
from earful.store import Store, rebuild_rollup

T0 = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def mk(
    i: int,
    *,
    label: str = "negative",
    compound: float = -0.5,
    matched: str = "Acme",
    at: datetime = T0,
    **kw,
) -> Mention:
    base = dict(
        platform="mastodon",
        external_id=f"https://example.social/statuses/{i}",
        url=f"https://example.social/@u{i}/{i}",
        author=f"user{i}",
        text=f"acme is down again #{i}",
        created_at=at,
        matched=matched,
        compound=compound,
        label=label,
        raw={"id": str(i)},
    )
    base.update(kw)
    return Mention(**base)


def rollup(store: Store) -> dict[tuple, tuple[int, float]]:
    with store.read() as c:
        return {
            (r.hour, r.matched, r.platform, r.label): (r.n, round(r.compound_sum, 6))
            for r in c.execute(sa.select(rollup_hourly))
        }


def test_upgrade_is_idempotent_and_recorded(db_url):
    store = Store(db_url)
    first = store.upgrade()
    assert [n.split(":")[0] for n in first] == [str(v) for v, _, _ in MIGRATIONS]
    assert store.upgrade() == []
    assert store.is_current()
    with store.read() as c:
        versions = list(
            c.scalars(sa.select(schema_migrations.c.version).order_by(schema_migrations.c.version))
        )
    assert versions == [v for v, _, _ in MIGRATIONS]


def _mention_indexes(store: Store) -> dict[str, tuple[str, ...]]:
    with store.read() as c:
        return {
            ix["name"]: tuple(ix["column_names"]) for ix in sa.inspect(c).get_indexes("mentions")
        }


def test_migration_9_replaces_the_author_index_on_an_existing_database(db_url):
    store = Store(db_url)
    store.upgrade()
    fresh = _mention_indexes(store)
    assert fresh["ix_mentions_author_thread"] == ("platform", "author", "thread_id")
    assert "ix_mentions_author" not in fresh
    # A database at version 8, with rows: the author index as migration 1 made it then.
    with store.write() as c:
        c.exec_driver_sql("DROP INDEX ix_mentions_author_thread")
        c.exec_driver_sql("CREATE INDEX ix_mentions_author ON mentions (platform, author)")
        c.execute(schema_migrations.delete().where(schema_migrations.c.version == 9))
    store.save_page("src", "q", [mk(i, thread_id=f"t{i % 3}") for i in range(20)], None, now=T0)
    assert not store.is_current()
    assert [n.split(":")[0] for n in store.upgrade()] == ["9"]
    assert _mention_indexes(store) == fresh  # upgraded and fresh databases agree
    assert store.upgrade() == []
    assert store.count_mentions() == 20


def test_insert_is_idempotent_and_rollup_counts_each_mention_once(any_store):
    batch = [mk(1), mk(2, label="positive", compound=0.6), mk(3, at=T0 + timedelta(hours=1))]
    r1 = any_store.save_page("mastodon", "Acme", batch, {"min_id": "3"})
    assert (r1.inserted, r1.duplicates) == (3, 0)
    # The same page again, plus one new post and an in-batch duplicate.
    r2 = any_store.save_page("mastodon", "Acme", [*batch, mk(4), mk(4)], {"min_id": "4"})
    assert (r2.inserted, r2.duplicates) == (1, 4)
    assert any_store.count_mentions() == 4
    hour = T0.replace(minute=0)
    got = rollup(any_store)
    assert got[(hour, "Acme", "mastodon", "negative")] == (2, -1.0)
    assert got[(hour, "Acme", "mastodon", "positive")] == (1, 0.6)
    assert got[(hour + timedelta(hours=1), "Acme", "mastodon", "negative")] == (1, -0.5)
    assert sum(n for n, _ in got.values()) == any_store.count_mentions()
    assert any_store.get_cursor("mastodon", "Acme") == {"min_id": "4"}


def test_cursor_moves_only_with_its_mentions(any_store):
    any_store.save_page("mastodon", "Acme", [mk(1)], {"page": 1})
    bad = dataclasses.replace(mk(2), matched=None)  # not enriched: the insert raises
    with pytest.raises(ValueError):
        any_store.save_page("mastodon", "Acme", [mk(3), bad], {"page": 2})
    assert any_store.get_cursor("mastodon", "Acme") == {"page": 1}
    assert any_store.count_mentions() == 1


def test_failed_transaction_rolls_back_mentions_rollup_and_cursor(any_store):
    with pytest.raises(RuntimeError):
        with any_store.write() as conn:
            any_store.save_page("mastodon", "Acme", [mk(1)], {"page": 9}, conn=conn)
            raise RuntimeError("crash after the insert, before commit")
    assert any_store.count_mentions() == 0
    assert rollup(any_store) == {}
    assert any_store.get_cursor("mastodon", "Acme") is None


def test_timestamps_come_back_tz_aware_utc(any_store):
    paris = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    any_store.save_page("mastodon", "Acme", [mk(1, at=paris)], None)
    with any_store.read() as c:
        created = c.scalar(sa.select(mentions.c.created_at))
    assert created == T0 and created.tzinfo is not None and created.utcoffset() == timedelta(0)


def test_hostile_text_and_raw_are_stored_verbatim(any_store):
    from earful.text import clean_text

    evil = (
        "<script>alert(1)</script>\u202eevil\x00\x07 ![x](http://e/x.png) "
        + "A" * 100_000
        + "\ud800"
    )
    m = mk(1, text=clean_text(evil), raw={"content": "<p>hi</p>", "nested": {"ok": [1, 2]}})
    any_store.save_page("mastodon", "Acme", [m], None)
    with any_store.read() as c:
        row = c.execute(sa.select(mentions.c.text, mentions.c.raw)).one()
    assert row.text.startswith("<script>alert(1)</script>\u202eevil")
    assert "\x00" not in row.text and len(row.text) > 100_000
    assert row.raw == {"content": "<p>hi</p>", "nested": {"ok": [1, 2]}}


def test_needs_reply_mentions_enter_the_queue_once(any_store):
    m = mk(1, needs_reply=True, intent="complaint", priority=60.0)
    any_store.save_page("mastodon", "Acme", [m, mk(2)], None)
    any_store.save_page("mastodon", "Acme", [m], None)
    with any_store.read() as c:
        rows = c.execute(sa.select(queue_items)).all()
    assert len(rows) == 1 and rows[0].status == "open" and rows[0].waiting_since == T0


def test_rebuild_rollup_matches_incremental(any_store):
    batch = [
        mk(
            i,
            label=("positive" if i % 3 else "negative"),
            compound=(0.5 if i % 3 else -0.4),
            at=T0 + timedelta(minutes=17 * i),
        )
        for i in range(40)
    ]
    # a half-hour offset: bucketed by its UTC hour, as the rebuild does
    ist = timezone(timedelta(hours=5, minutes=30))
    batch += [mk(100 + i, at=(T0 + timedelta(minutes=20 * i)).astimezone(ist)) for i in range(6)]
    any_store.save_page("mastodon", "Acme", batch[:25], None)
    any_store.save_page("mastodon", "Acme", batch[20:], None)
    incremental = rollup(any_store)
    rebuild_rollup(any_store)
    assert rollup(any_store) == incremental


def test_naive_datetimes_are_refused(sqlite_store):
    with pytest.raises(ValueError):
        mk(1, at=datetime(2026, 1, 1))


def test_concurrent_writers_neither_fail_nor_double(db_url):
    """Two threads writing overlapping pages at once: every post stored exactly once."""
    store = Store(db_url)
    store.upgrade()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for start in range(0, 60, 10):
                ids = range(start + offset, start + offset + 15)
                store.save_page("mastodon", f"q{offset}", [mk(i) for i in ids], {"at": start})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert store.count_mentions() == len(set(range(0, 70)))
    assert sum(n for n, _ in rollup(store).values()) == store.count_mentions()
    store.engine.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(sqlite_store):
    with sqlite_store.read() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_large_page_with_repeats_inserts_each_new_mention_once_in_page_order(any_store):
    # More rows than one multi-row INSERT holds on SQLite; known, repeated and new ones mixed.
    any_store.save_page("s", "q", [mk(i) for i in range(0, 3000, 2)], None)  # the even ones
    page = [mk(i, needs_reply=i % 3 == 0, priority=50.0) for i in range(2999, -1, -1)]
    page += page[:10]  # repeated within the page
    res = any_store.save_page("s", "q", page, None)
    assert (res.inserted, res.duplicates) == (1500, 1510)
    with any_store.read() as c:
        got = dict(c.execute(sa.select(mentions.c.id, mentions.c.external_id)).all())
        assert len(got) == 3000
        queued = set(c.scalars(sa.select(queue_items.c.mention_id)))
    # ids come back in the page's order (odd numbers, descending)
    assert [got[i] for i in res.inserted_ids] == [mk(i).external_id for i in range(2999, 0, -2)]
    assert queued == {i for i in res.inserted_ids if int(got[i].rsplit("/", 1)[1]) % 3 == 0}
    assert (
        any_store.count_mentions() == 3000 and sum(n for n, _ in rollup(any_store).values()) == 3000
    )


def test_the_insert_path_writes_every_mention_column():
    from earful.store import _MENTION_COLUMNS

    assert set(_MENTION_COLUMNS) == {c.name for c in mentions.c} - {"id"}
    assert set(_MENTION_COLUMNS) <= {f.name for f in dataclasses.fields(Mention)}


def test_sqlite_full_text_index_holds_exactly_the_inserted_rows(sqlite_store):
    # Fed once per batch (migration 8), not by a row trigger: repeats, several
    # chunks and a deleted newest row (whose id SQLite may hand out again) included.
    sqlite_store.save_page("s", "q", [mk(i, text=f"acme widget {i}") for i in range(5)], None)
    with sqlite_store.write() as c:
        c.execute(mentions.delete().where(mentions.c.external_id == mk(4).external_id))
    page = [mk(i, text=f"acme gadget {i}") for i in range(3, 2500)]
    sqlite_store.save_page("s", "q", page + page[:7], None)
    with sqlite_store.read() as c:
        assert not c.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name = 'trg_mentions_fts_ai'"
        ).all()
        c.exec_driver_sql("INSERT INTO mentions_fts(mentions_fts) VALUES ('integrity-check')")
        n = c.exec_driver_sql("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'acme'")
        assert n.scalar() == sqlite_store.count_mentions() == 2500
        gadgets = c.exec_driver_sql(
            "SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'gadget'"
        ).scalar()
        assert gadgets == 2496  # 3 is a widget from the first page, 4 came back as a gadget


def test_fast_sqlite_datetime_binding_and_reading_equal_sqlalchemys():
    from datetime import timezone

    from sqlalchemy.dialects import sqlite

    from earful.schema import UTCDateTime, sqlite_utc_text, sqlite_utc_value

    dialect = sqlite.dialect()
    chain = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert chain is not None
    values = [
        T0,
        T0.replace(microsecond=7),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
        datetime(987, 1, 2, 3, 4, 5, tzinfo=UTC),
        None,
    ]
    back = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert back is not None
    for v in values:
        assert sqlite_utc_text(v) == chain(v)
        assert sqlite_utc_value(sqlite_utc_text(v)) == back(chain(v))
        if v is not None:
            assert sqlite_utc_value(sqlite_utc_text(v)).tzinfo is UTC  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="naive"):
        sqlite_utc_text(datetime(2026, 1, 1))


def test_json_text_writes_what_json_dumps_wrote():
    import json
    from dataclasses import dataclass as dc

    from earful.schema import json_text

    @dc
    class Box:
        a: int

    cases = [
        {"id": "1", "text": "é \u202e<script>alert(1)</script>", "n": [1, 2.5, None, True]},
        {"at": T0, "box": Box(1)},  # through default=str, as before
        {1: "int key"},
        {"big": 2**70},  # past 64 bits: the json fallback
        {"lone": "\ud800"},  # a lone surrogate: the json fallback
        {"f": 0.1 + 0.2, "g": 1e300, "h": -0.0},
        [],
    ]
    for value in cases:
        assert json_text(value) == json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), default=str
        )
    assert json_text(None) is None


def test_sqlite_rows_equal_sqlalchemys_bound_values():
    from sqlalchemy.dialects import sqlite

    from earful.schema import sqlite_utc_text
    from earful.store import _MENTION_COLUMNS, _bind_processors, _processed, _sqlite_values, _values

    other_tz = T0.astimezone(timezone(timedelta(hours=5, minutes=30)))
    ms = [
        mk(1),
        mk(2, raw=None, fetched_at=other_tz, needs_reply=True, is_demo=True, author_followers=None),
        mk(3, created_at=other_tz, raw={"t": "é\u202e", "n": [1, 2.5]}, compound=None),
    ]
    procs = _bind_processors(mentions, _MENTION_COLUMNS, sqlite.dialect())
    for m in ms:
        assert _sqlite_values(m, sqlite_utc_text(T0)) == _processed([_values(m, T0)], procs)[0]


def test_postgres_unnest_insert_stores_what_sqlalchemys_insert_stores(pg_url):
    """The one-statement PostgreSQL path against the generic SQLAlchemy INSERT, column by column."""
    from earful.store import _MENTION_COLUMNS, _values

    store = Store(pg_url)
    store.upgrade()
    odd = dict(
        text="naïve 😡 <b>x</b> \u200f 'quote' \"dq\" back\\slash {braces} NULL",
        raw={"id": "1", "nested": {"k": [1, None, "ü"]}, "big": 2**40},
        lang=None,
        author_followers=None,
        engagement=2**31 - 1,
        needs_reply=True,
        priority=12.5,
        in_reply_to="p",
    )
    batch = [mk(i, **(odd if i % 2 else {}), at=T0 + timedelta(microseconds=i)) for i in range(6)]
    twins = [dataclasses.replace(m, external_id=m.external_id + "-generic") for m in batch]
    now = T0 + timedelta(hours=1)
    with store.write() as conn:
        store._insert_new(conn, [_values(m, now) for m in batch])
        stmt = store.insert(mentions).on_conflict_do_nothing(
            index_elements=["platform", "external_id"]
        )
        conn.execute(
            stmt, [dict(zip(_MENTION_COLUMNS, _values(m, now), strict=True)) for m in twins]
        )
    cols = [mentions.c[c] for c in _MENTION_COLUMNS if c != "external_id"]
    with store.read() as c:
        rows = {
            r.external_id: tuple(r[1:]) for r in c.execute(sa.select(mentions.c.external_id, *cols))
        }
    store.engine.dispose()
    assert len(rows) == 12
    for m in batch:
        assert rows[m.external_id] == rows[m.external_id + "-generic"]


def test_migration_10_replaces_the_queue_index_on_an_existing_database(db_url):
    def queue_indexes() -> dict[str, tuple]:
        with store.read() as c:
            return {
                ix["name"]: tuple(ix["column_names"])
                for ix in sa.inspect(c).get_indexes("queue_items")
            }

    def order_ddl() -> str:  # the inspector does not report a column's sort order on SQLite
        sql = (
            "SELECT sql FROM sqlite_master WHERE name = 'ix_queue_order'"
            if store.dialect == "sqlite"
            else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_queue_order'"
        )
        with store.read() as c:
            return " ".join(str(c.exec_driver_sql(sql).scalar()).split())

    store = Store(db_url)
    store.upgrade()
    fresh = queue_indexes()
    assert fresh["ix_queue_order"] == ("status", "priority", "waiting_since", "mention_id")
    assert "priority DESC" in order_ddl()
    assert "ix_queue_status_priority" not in fresh
    with store.write() as c:  # a database at version 9, as migration 2 made its index then
        c.exec_driver_sql("DROP INDEX ix_queue_order")
        c.exec_driver_sql("CREATE INDEX ix_queue_status_priority ON queue_items (status, priority)")
        c.execute(schema_migrations.delete().where(schema_migrations.c.version == 10))
    store.save_page(
        "src", "q", [mk(i, needs_reply=True, thread_id=f"t{i}") for i in range(5)], None
    )
    assert [n.split(":")[0] for n in store.upgrade()] == ["10"]
    assert queue_indexes() == fresh
    assert "priority DESC" in order_ddl()
    with store.read() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(queue_items)) == 5

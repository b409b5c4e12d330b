"""earful.export: CSV and JSONL round-trips, filters, and counts equal to earful.queries."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from test_queries import NOW, seed

from earful import queries as qy
from earful.export import COLUMNS, export_bytes, export_mentions
from earful.models import Mention
from earful.queries import MentionFilter
from earful.store import Store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    url = (
        f"sqlite:///{tmp_path / 'x.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store(url)
    s.upgrade()
    seed(s, hours=24)
    yield s
    s.engine.dispose()


def _csv(store, **kw) -> list[dict]:
    buf = io.StringIO()
    n = export_mentions(store, buf, fmt="csv", **kw)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert n == len(rows)
    return rows


def test_csv_round_trip_has_every_column(store):
    rows = _csv(store)
    assert len(rows) == qy.count_mentions(store) == 24 * 7 + 1
    assert tuple(rows[0]) == COLUMNS
    first = rows[0]
    assert first["created_at"].endswith("Z")
    times = [r["created_at"] for r in rows]
    assert times == sorted(times)  # oldest first
    hostile = next(r for r in rows if r["external_id"] == "hostile")
    assert hostile["text"].startswith("<img src=x onerror") and len(hostile["text"]) > 100_000
    assert hostile["needs_reply"] == "true" and hostile["intent"] == "complaint"
    spanish = next(r for r in rows if r["lang"] == "es")
    assert spanish["label"] == "unscored" and spanish["compound"] == ""


def test_jsonl_round_trip_keeps_types(store):
    buf = io.StringIO()
    n = export_mentions(store, buf, fmt="jsonl")
    recs = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert n == len(recs) == qy.count_mentions(store)
    r = next(x for x in recs if x["label"] == "negative" and x["external_id"] != "hostile")
    assert (
        r["compound"] == -0.6
        and r["needs_reply"] is True
        and isinstance(r["author_followers"], int)
    )
    assert set(r) == set(COLUMNS)


@pytest.mark.parametrize(
    "f",
    [
        MentionFilter(platforms=("reddit",)),
        MentionFilter(labels=("negative",), entities=("Acme",)),
        MentionFilter(search="refund", min_followers=500),
        MentionFilter(
            since=NOW - timedelta(hours=6), until=NOW - timedelta(hours=2), langs=("en",)
        ),
        MentionFilter(intents=("praise",), platforms=("mastodon", "bluesky")),
    ],
)
def test_filtered_export_count_equals_query_count(store, f):
    rows = _csv(store, filter=f)
    assert len(rows) == qy.count_mentions(store, f)
    assert sum(qy.label_counts(store, f).values()) == len(rows)


def test_cli_keywords_narrow_the_filter(store):
    since = NOW - timedelta(hours=3)
    rows = _csv(
        store,
        since=since,
        until=NOW,
        platforms=("bluesky",),
        filter=MentionFilter(labels=("positive",)),
    )
    expected = MentionFilter(since=since, until=NOW, platforms=("bluesky",), labels=("positive",))
    assert len(rows) == qy.count_mentions(store, expected) > 0
    assert {r["platform"] for r in rows} == {"bluesky"}


def test_formula_cells_are_neutralised_and_bad_format_refused(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'f.db'}")
    s.upgrade()
    m = Mention(
        platform="x",
        external_id="1",
        url="",
        author="=cmd|' /C calc'!A0",
        text='=HYPERLINK("http://evil.test")',
        created_at=NOW,
        matched="Acme",
        compound=0.0,
        label="neutral",
    )
    s.save_page("t", "q", [m], None, now=NOW)
    (row,) = _csv(s)
    assert row["text"].startswith("'=") and row["author"].startswith("'=")
    data = export_bytes(s, MentionFilter())
    assert data.startswith(b"\xef\xbb\xbf")
    with pytest.raises(ValueError):
        export_mentions(s, io.StringIO(), fmt="xml")

"""Export mentions as CSV or JSON Lines, one row per mention, streamed from the database.

The rows are exactly those of `earful.queries.MentionFilter` (the Mentions
page's filter), so an export and the page agree on the numbers. Used by
`earful export` and by the dashboard's download button.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import IO, Any

import sqlalchemy as sa

from earful.queries import MentionFilter
from earful.schema import mentions
from earful.store import Store

COLUMNS: tuple[str, ...] = (
    "platform",
    "external_id",
    "url",
    "author",
    "author_followers",
    "text",
    "created_at",
    "lang",
    "matched",
    "compound",
    "label",
    "intent",
    "needs_reply",
    "engagement",
    "in_reply_to",
    "is_demo",
)
FORMATS = ("csv", "jsonl")
_BATCH = 2000


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in a stranger's text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_mentions(
    store: Store,
    fh: IO[str],
    *,
    fmt: str,
    since: datetime | None = None,
    until: datetime | None = None,
    platforms: tuple[str, ...] | list[str] = (),
    filter: MentionFilter | None = None,  # noqa: A002 - the CLI's keyword
) -> int:
    """Write the filtered mentions to `fh` (oldest first); return how many rows were written.

    `since`/`until`/`platforms` narrow `filter` further (the CLI passes those alone).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
    f = filter or MentionFilter()
    conds = f.conditions(store.dialect)
    if since is not None:
        conds.append(mentions.c.created_at >= since)
    if until is not None:
        conds.append(mentions.c.created_at < until)
    if platforms:
        conds.append(mentions.c.platform.in_(tuple(platforms)))
    sel = sa.select(*(mentions.c[name] for name in COLUMNS))
    if conds:
        sel = sel.where(*conds)
    sel = sel.order_by(mentions.c.created_at, mentions.c.id)
    writer = csv.writer(fh, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    n = 0
    with store.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(sel)
        for row in result:
            rec = _record(row._mapping)
            if writer is not None:
                writer.writerow(
                    [
                        _csv_safe(v) if isinstance(v, str) and k in _FREE_TEXT else _cell(v)
                        for k, v in rec.items()
                    ]
                )
            else:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


_FREE_TEXT = {"author", "text"}


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _record(row: Any) -> dict[str, Any]:
    rec = {name: row[name] for name in COLUMNS}
    rec["created_at"] = _iso(rec["created_at"])
    rec["needs_reply"] = bool(rec["needs_reply"])
    rec["is_demo"] = bool(rec["is_demo"])
    return rec


def export_bytes(store: Store, f: MentionFilter, *, fmt: str = "csv") -> bytes:
    """The export as UTF-8 bytes (what the dashboard's download button serves).

    CSV starts with a byte-order mark so spreadsheet programs read it as UTF-8.
    Built in one buffer: callers bound the row count (see the Mentions page).
    """
    raw = io.BytesIO()
    if fmt == "csv":
        raw.write(b"\xef\xbb\xbf")
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=True)
    export_mentions(store, text, fmt=fmt, filter=f)
    text.flush()
    data = raw.getvalue()
    text.detach()
    return data


__all__ = ["COLUMNS", "FORMATS", "export_bytes", "export_mentions"]

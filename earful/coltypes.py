"""Column types every table uses, and their one-call SQLite forms for the hot paths.

`UTCDateTime` (naive UTC stored, tz-aware UTC returned), `JSONText` (JSON kept
as text), `BigId` (BIGINT, INTEGER on SQLite so it stays the rowid), and the
functions the ingest path calls instead of SQLAlchemy's bind chains:
`sqlite_utc_text`, `sqlite_utc_value` and `json_text` (tests compare each with
the chain it replaces).

The cut is here because these say how a value is stored, not which tables
exist: `earful.schema` declares the tables with them and re-exports them (the
insert paths in `earful.store_rows` and `earful.store_rollup` import them
from there), and a change to a stored form is reviewed here, next to the
SQLAlchemy chain it must stay equal to.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect


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

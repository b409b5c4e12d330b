"""Mastodon status ids and JSON bodies, shared by the hashtag timeline walk
(listeners/mastodon.py) and the full-text search walk (listeners/_mastodon_search.py).

Ids are opaque strings, ordered by length then lexically. Mastodon's own are
snowflakes, `(ms since epoch << 16) | seq`: their time tells where a forward
walk starts so that late-federated posts are seen ("Late federation" in
listeners/mastodon.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from earful.models import Mention
from listeners.base import SourceError


class ListenerHooks:
    """What the walks mixed into MastodonListener call on it (listeners/mastodon.py
    defines the real ones; these only say so when a walk is used on its own)."""

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        raise NotImplementedError

    def _parse(self, payload: Any) -> tuple[list[Mention], int]:
        raise NotImplementedError


def id_key(status_id: str) -> tuple[int, str]:
    """Sort key for Mastodon's opaque string ids: by length, then lexically."""
    return (len(status_id), status_id)


def newest_id(ids: list[str], current: str | None = None) -> str | None:
    """The largest id among `ids` and `current`."""
    pool = [i for i in ids if i] + ([current] if current else [])
    return max(pool, key=id_key) if pool else None


# No Mastodon snowflake is older than 2016 (they came with 2.0, in 2017): a
# smaller number is a sequential id or another server's, not a timestamp.
_SNOWFLAKE_MIN_MS = 1_451_606_400_000  # 2016-01-01T00:00:00Z
_DIGITS = re.compile(r"^[1-9][0-9]*$")


def time_of(status_id: str, now: datetime) -> int | None:
    """The epoch-ms a Mastodon snowflake id encodes (`id >> 16`); None when it is not one."""
    if not _DIGITS.match(status_id):
        return None
    ms = int(status_id) >> 16
    # the upper bound (a day of clock skew) rejects long numeric ids of other servers
    latest = int((now + timedelta(days=1)).timestamp() * 1000)
    return ms if _SNOWFLAKE_MIN_MS <= ms <= latest else None


def id_at(ms: int) -> str:
    """The smallest snowflake id of millisecond `ms` (Mastodon's `Snowflake.id_at`)."""
    return str(ms << 16)


def rescan_from(cursor: str, overlap: timedelta, now: datetime) -> str | None:
    """Where a forward walk starts so late-federated posts are seen; None: at the cursor."""
    ms = time_of(cursor, now)
    if ms is None or overlap <= timedelta(0):
        return None
    return id_at(max(_SNOWFLAKE_MIN_MS, ms - int(overlap.total_seconds() * 1000)))


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise SourceError(
            "bad_payload", f"Mastodon sent a body that is not JSON ({exc})", transient=True
        ) from exc

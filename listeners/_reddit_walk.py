"""Reddit's newest-first walk: how a page ends a step, the saved cursor's checks, `t=`.

Pure functions used by the listener's `poll` (listeners/reddit.py) and by the
two page sources it walks (listeners/_reddit_oauth.py, listeners/_reddit_rss.py);
they sit apart so that both sources share them without importing the listener
module. The cursor's semantics are described in listeners/reddit.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_WINDOWS = (
    ("hour", 3600),
    ("day", 86400),
    ("week", 604800),
    ("month", 2678400),
    ("year", 31622400),
)


def time_window(seconds: float) -> str:
    """The smallest Reddit `t=` window that covers `seconds` back from now."""
    for name, size in _WINDOWS:
        if seconds <= size:
            return name
    return "all"


def walk_state(
    anchored: bool, size: int, stamps: list[float], has_next: bool, lower: float, limit: int
) -> str:
    """After one page of a newest-first walk: "done" (bound or end reached), "more", or how
    the listing ended before the bound.

    "anchor_gone": an empty page after `after` (the anchor post was deleted, or
    new posts pushed it past the listing's cap). "listing_cap": a full page with
    no `after` (Reddit stops a listing at about 1,000 items).
    """
    if stamps and min(stamps) < lower:
        return "done"
    if not size:
        return "anchor_gone" if anchored else "done"
    if not has_next:
        return "done" if size < limit else "listing_cap"
    return "more"


def is_open(cur: Mapping[str, Any]) -> bool:
    """A step is under way: the next walk continues below its `after` anchor."""
    return "after" in cur


def valid_cursor(cursor: Mapping[str, Any] | None) -> dict[str, Any]:
    """The saved cursor, or {} (a backfill) when a field does not read as what it should be."""
    cur = dict(cursor or {})
    try:
        for key in ("since", "floor", "newest"):
            if cur.get(key) is not None:
                float(cur[key])
    except (TypeError, ValueError):
        return {}
    if is_open(cur) and not (isinstance(cur["after"], str) and cur.get("floor") is not None):
        return {}
    return cur


def _stamps(data: Any) -> list[float]:
    out = []
    for child in (data.get("data") or {}).get("children") or []:
        try:
            out.append(float(child["data"]["created_utc"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out

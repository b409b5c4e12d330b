"""Reddit's fullnames and the marks deleted or removed content leaves behind.

Shared by the listener (listeners/reddit.py), the anonymous feed
(listeners/_reddit_rss.py) and the OAuth search and recheck
(listeners/_reddit_oauth.py); it lives apart so that those modules import it
without importing the listener module, which imports them. Why such content
is purged rather than shown is in listeners/reddit.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLATFORM = "reddit"
_KINDS = ("t3_", "t1_")
# What Reddit leaves in place of deleted or removed text: `[deleted]`, `[removed]`, and the
# newer `[ Removed by Reddit ]` / `[ Removed by moderator ]` (inner spaces, any case).
_GONE = re.compile(r"\[\s*(?:deleted|removed(?:\s+by\s+[a-z ]+?)?)\s*\]", re.IGNORECASE)


def is_gone(text: str | None) -> bool:
    return _GONE.fullmatch((text or "").strip()) is not None


def thing_gone(thing: Mapping[str, Any]) -> bool:
    """A listing child whose text was deleted or removed (it must be purged, not kept)."""
    kind, d = thing["kind"], thing["data"]
    if kind == "t3":
        return bool(
            is_gone(d.get("selftext")) or d.get("removed_by_category") or is_gone(d.get("title"))
        )
    return kind == "t1" and is_gone(d.get("body"))


def gone_ids(payload: Any) -> tuple[str, ...]:
    """The fullnames of a Listing's deleted or removed items (stored copies get purged)."""
    out = []
    for child in (payload.get("data") or {}).get("children") or []:
        try:
            if thing_gone(child):
                out.append(str(child["data"]["name"]))
        except (KeyError, TypeError, AttributeError):
            continue  # malformed: counted by parse
    return tuple(out)

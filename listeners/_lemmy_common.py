"""Lemmy search responses read both ways: the v3/v4 lists of views and the deleted ones.

Shared by `parse` (listeners/lemmy.py) and the search walk
(listeners/_lemmy_walk.py); it lives apart so that the walk imports it without
importing the listener module, which imports the walk.
"""

from __future__ import annotations

from typing import Any


def _views(payload: dict[str, Any]) -> tuple[dict[str, list[Any]], int]:
    """A search response -> ({"posts": [...], "comments": [...]}, lists that were not lists).

    Two shapes: separate `posts`/`comments` lists (0.19, and Lemmy 1.0 per the
    reference), or one `search` list of views tagged `type_` "post"/"comment"
    (lemmy-js-client's SearchCombinedView for 1.0); communities and users are ignored.
    """
    views: dict[str, list[Any]] = {"posts": [], "comments": []}
    bad = 0
    for key in views:
        items = payload.get(key) or []
        if isinstance(items, list):
            views[key].extend(items)
        else:
            bad += 1
    combined = payload.get("search") or []
    if not isinstance(combined, list):
        return views, bad + 1
    for view in combined:
        tag = str(view.get("type_") or "").lower() if isinstance(view, dict) else ""
        if tag in ("post", "comment"):
            views[tag + "s"].append(view)
        elif tag not in ("community", "person", "multi_community"):
            bad += 1  # untagged or unknown: counted as malformed, never guessed
    return views, bad


def gone_ids(payload: Any) -> tuple[str, ...]:
    """The `ap_id`s of deleted or removed posts and comments in a search response
    (a copy stored before the deletion is purged with the page)."""
    out = []
    views, _ = _views(payload) if isinstance(payload, dict) else ({}, 0)
    for key, field in (("posts", "post"), ("comments", "comment")):
        for view in views.get(key, ()):
            item = view.get(field) if isinstance(view, dict) else None
            if isinstance(item, dict) and (item.get("deleted") or item.get("removed")):
                if item.get("ap_id"):
                    out.append(str(item["ap_id"]))
    return tuple(out)

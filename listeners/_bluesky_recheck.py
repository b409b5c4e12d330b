"""Bluesky recheck: which stored posts getPosts no longer returns.

`PostRecheck` holds BlueskyListener's `gone` (a mixin: the listener supplies
`_get`, logged in or on the public host). What counts as gone is described in
listeners/bluesky.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from listeners.base import SourceError, StoredPost, check_asked

POSTS_PER_CALL = 25  # getPosts' `uris` maxLength


class PostRecheck:
    """BlueskyListener's lookup of stored posts by at-URI (mixed into the listener)."""

    if TYPE_CHECKING:  # Session's (listeners/_bluesky_session.py): not shadowed at run time

        def _get(self, method: str, params: Any) -> Any: ...

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """The at-URIs getPosts no longer returns (every call must be well formed)."""
        uris = list(
            dict.fromkeys(p.external_id for p in posts if p.external_id.startswith("at://"))
        )
        out: list[str] = []
        for i in range(0, len(uris), POSTS_PER_CALL):
            batch = uris[i : i + POSTS_PER_CALL]
            data = self._get("app.bsky.feed.getPosts", [("uris", u) for u in batch])
            views = data.get("posts") if isinstance(data, dict) else None
            if not isinstance(views, list) or not all(
                isinstance(v, dict) and isinstance(v.get("uri"), str) for v in views
            ):
                raise SourceError("bad_payload", "recheck: getPosts sent no posts list")
            seen = {v["uri"] for v in views}
            check_asked(batch, seen)
            out += [u for u in batch if u not in seen]
        return tuple(out)

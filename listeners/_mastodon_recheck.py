"""Mastodon recheck: which stored statuses answer Mastodon's own 404 on their instance.

`StatusRecheck` holds MastodonListener's `gone` (a mixin: the listener supplies
`base_url`, `_headers` and `probe`). What counts as gone is described in
listeners/mastodon.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from listeners.base import SourceError, StoredPost, json_body

if TYPE_CHECKING:
    import httpx


class StatusRecheck:
    """MastodonListener's lookup of stored statuses by native id (mixed into the listener)."""

    base_url: str

    if TYPE_CHECKING:  # MastodonListener's and Listener's: not shadowed at run time

        def _headers(self) -> dict[str, str]: ...

        def probe(
            self, url: str, *, params: Any = None, headers: Mapping[str, str] | None = None
        ) -> httpx.Response: ...

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """The posts whose status answers Mastodon's own 404 on this instance."""
        out = []
        for post in posts:
            if not post.native_id:
                continue
            url = f"{self.base_url}/api/v1/statuses/{quote(post.native_id, safe='')}"
            resp = self.probe(url, headers=self._headers())
            body = json_body(resp)
            if resp.status_code == 200 and isinstance(body, dict):
                if str(body.get("uri")) != post.external_id:  # another status: wrong instance?
                    raise SourceError("bad_payload", f"recheck: status {post.native_id} moved")
                continue
            error = body.get("error") if isinstance(body, dict) else None
            if resp.status_code == 404 and str(error).lower() == "record not found":
                out.append(post.external_id)
                continue
            raise SourceError("bad_payload", f"recheck: HTTP {resp.status_code} from {url}")
        return tuple(out)

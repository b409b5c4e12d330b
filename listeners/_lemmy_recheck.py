"""Lemmy recheck: which stored posts and comments their instance flags or no longer finds.

`ItemRecheck` holds LemmyListener's `gone` (a mixin: the listener supplies
`ctx`, `base_url`, `api_version` and `probe`). What counts as gone is
described in listeners/lemmy.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from listeners.base import Context, SourceError, StoredPost, json_body

if TYPE_CHECKING:
    import httpx

# Lemmy's JSON `error` for an item an anonymous reader cannot see (deleted, removed, never was)
GONE_ERRORS = ("couldnt_find_post", "couldnt_find_comment", "not_found", "deleted")


class ItemRecheck:
    """LemmyListener's lookup of stored items by their local id (mixed into the listener)."""

    ctx: Context
    base_url: str

    if TYPE_CHECKING:  # LemmyListener's (SearchWalk's and Listener's): not shadowed at run time

        def api_version(self) -> str: ...

        def probe(
            self, url: str, *, params: Any = None, headers: Mapping[str, str] | None = None
        ) -> httpx.Response: ...

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """Items this instance flags deleted/removed or no longer finds, by their local id."""
        out = []
        for p in posts:
            if not (p.native_id and p.native_id.isdigit()):
                continue
            kind = "post" if p.thread_id == p.external_id else "comment"
            url = f"{self.base_url}/api/{self.api_version()}/{kind}"
            resp = self.probe(url, params={"id": p.native_id})
            body = json_body(resp)
            view = body.get(f"{kind}_view") if isinstance(body, dict) else None
            item = view.get(kind) if isinstance(view, dict) else None
            if resp.status_code == 200 and isinstance(item, dict):
                if str(item.get("ap_id")) != p.external_id:  # another item: wrong instance?
                    raise SourceError("bad_payload", f"recheck: {kind} {p.native_id} moved")
                if item.get("deleted") or item.get("removed"):
                    out.append(p.external_id)
                continue
            error = body.get("error") if isinstance(body, dict) else None
            if resp.status_code in (400, 404) and error in GONE_ERRORS:
                out.append(p.external_id)
                continue
            raise SourceError("bad_payload", f"recheck: HTTP {resp.status_code} from {url}")
        return tuple(out)

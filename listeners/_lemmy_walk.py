"""Lemmy search paging: the API version (v3 or v4) and the walk of each (type, term) step.

`SearchWalk` holds LemmyListener's version detection and page walk (a mixin:
the listener supplies `ctx`, `options`, `base_url` and the parse method stubbed
below; it parses through the listener's `_parse`, so this module need not
import the listener's). The listener builds the walk state from the cursor;
the cursor's semantics are described in listeners/lemmy.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from earful.models import Mention, Page
from listeners._http import get_json, iso, request, text_matches
from listeners._lemmy_common import _views, gone_ids
from listeners.base import Context, Query, SourceError

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.lemmy import LemmyOptions


def _not_after(newest: str | None, started: str | None) -> str | None:
    """The watermark to save: the newest `published` seen, never later than the walk's start.

    `published` comes from the origin instance's clock: one post dated in the
    future (a skewed or hostile server) would otherwise lift the watermark past
    every real post still to come, and each later walk would stop at page 1.
    """
    if newest is None or (started is not None and iso(newest) > iso(started)):
        return started
    return newest


class SearchWalk:
    """LemmyListener's API version and search walk (mixed into the listener)."""

    ctx: Context
    options: LemmyOptions
    base_url: str

    # LemmyListener's own method (listeners/lemmy.py) replaces this
    def _parse(self, payload: Any) -> tuple[list[Mention], int]:
        raise NotImplementedError

    def api_version(self) -> str:
        opts = self.options
        if opts.api != "auto":
            return opts.api
        if "api" not in self.ctx.state:
            self.ctx.state["api"] = self._detect()
        return str(self.ctx.state["api"])

    def _detect(self) -> str:
        try:
            site = get_json(self.ctx, f"{self.base_url}/api/v3/site")
        except SourceError as exc:
            if exc.kind not in ("error", "bad_payload"):
                raise
            request(self.ctx, "GET", f"{self.base_url}/api/v4/site")  # raises if neither
            return "v4"
        version = str((site or {}).get("version") or "0") if isinstance(site, dict) else "0"
        try:
            major = int(version.lstrip("v").split(".")[0])
        except ValueError:
            major = 0
        return "v4" if major >= 1 else "v3"

    def _walk(
        self,
        query: Query,
        steps: list[tuple[str, str]],
        walk: dict[str, Any],
        watermark: str | None,
    ) -> Iterator[Page]:
        """The pages of the steps still to walk, from `walk`; each page carries the cursor."""
        opts = self.options
        v4 = self.api_version() == "v4"
        lower_dt = iso(walk["lower"])
        while True:
            kind, term = steps[min(walk["step"], len(steps) - 1)]
            params: dict[str, Any] = {"type_": kind, "sort": "New", "listing_type": "All"}
            params["limit"] = opts.limit
            if v4:
                params["search_term"] = term
                if walk.get("page_cursor"):
                    params["page_cursor"] = walk["page_cursor"]
                url = f"{self.base_url}/api/v4/search"
            else:
                params.update(q=term, page=walk["page"])
                url = f"{self.base_url}/api/v3/search"
            try:
                payload = get_json(self.ctx, url, params=params)
            except SourceError as exc:
                if exc.kind in ("error", "bad_payload"):
                    # Maybe the instance was upgraded under us (v3 gone, or v4 not yet
                    # there): detect the version again on the next poll, not at restart.
                    self.ctx.state.pop("api", None)
                raise
            mentions, skipped = self._parse(payload)
            n_items = len(_views(payload)[0][kind.lower()])
            if mentions:
                newest = max(m.created_at for m in mentions)
                if walk["newest"] is None or newest > iso(walk["newest"]):
                    walk["newest"] = newest.isoformat()
            reached = any(m.created_at <= lower_dt for m in mentions)
            next_cursor = payload.get("next_page") if v4 else None
            if not query.override:
                mentions = [m for m in mentions if text_matches(m.text, query.terms)]
            more = (
                n_items > 0
                and not reached
                and (watermark is not None or walk["page"] < opts.max_pages)
                and (next_cursor if v4 else n_items >= opts.limit)
            )
            walk = dict(walk)
            if more:
                walk.update(page=walk["page"] + 1, page_cursor=next_cursor)
            else:
                walk.update(step=walk["step"] + 1, page=1, page_cursor=None)
            if walk["step"] >= len(steps):
                done = {"watermark": _not_after(walk["newest"], walk.get("started"))}
                yield Page(mentions, done, skipped, done=True, gone=gone_ids(payload))
                return
            cursor_now = {"watermark": watermark, "walk": walk}
            yield Page(mentions, cursor_now, skipped, gone=gone_ids(payload))

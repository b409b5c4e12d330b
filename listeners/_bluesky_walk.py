"""Bluesky search paging: one step per term, walked newest first down to its bound.

`GapWalk` holds BlueskyListener's walk (a mixin: the listener supplies `ctx`,
`options` and the session, HTTP and parse methods stubbed below); the functions
after it read and write the per-term step states (`{"since"}` between steps,
`{"since", "floor", "gap_until", "newest"}` while a gap is open) in sortAt
time. The cursor's semantics are described in listeners/bluesky.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from earful.models import Mention, Page
from listeners import _http
from listeners.base import Context, SourceError

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.bluesky import BlueskyOptions


def indexed_at(post: Any) -> datetime | None:
    try:
        return _http.iso(post["indexedAt"])
    except (KeyError, TypeError, ValueError):
        return None


def sort_at(post: Any) -> datetime | None:
    """Bluesky's sortAt, min(createdAt, indexedAt): the time `since`, `until` and `latest` use."""
    indexed = indexed_at(post)
    if indexed is None:
        return None
    try:
        return min(_http.iso(post["record"]["createdAt"]), indexed)
    except (KeyError, TypeError, ValueError):
        return indexed


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class GapWalk:
    """BlueskyListener's per-term walk (mixed into the listener)."""

    ctx: Context
    options: BlueskyOptions

    # BlueskyListener's own methods (listeners/bluesky.py) replace these
    def _credentials(self) -> tuple[str, str] | None:
        raise NotImplementedError

    def _get(self, method: str, params: Any) -> Any:
        raise NotImplementedError

    def _followers(self, dids: list[str]) -> dict[str, int]:
        raise NotImplementedError

    def _parse(self, data: Any, followers: Mapping[str, int]) -> tuple[list[Mention], int]:
        raise NotImplementedError

    def _walk(self, q: str, states: dict[str, dict[str, Any]]) -> Iterator[Page]:
        """At most `max_pages` pages of one term's step, newest first; each page carries the
        whole cursor, this term's state updated to cover what the page stored."""
        st = states[q]
        mark = st.get("since")
        watermark = _http.iso(mark) if mark else None
        top: datetime | None = None  # the open gap's `until`: the step's pages above are stored
        if is_open(st):
            lower, top = _http.iso(st["floor"]), _http.iso(st["gap_until"])
            newest = _http.iso(st["newest"]) if st.get("newest") else None
        else:
            overlap = timedelta(seconds=self.options.overlap_seconds)
            lower = (
                watermark - overlap if watermark else self.ctx.clock() - self.ctx.source.backfill
            )
            newest = None
        backfill = watermark is None  # nothing older than a backfill's window is stored

        def close() -> dict[str, Any]:
            keep = max(filter(None, (newest, watermark)), default=None)
            return {"since": _iso(keep)} if keep else {}

        def gap(until: datetime) -> dict[str, Any]:
            out = {"floor": _iso(lower), "gap_until": _iso(until)}
            out |= {"since": mark} if mark else {}
            return out | ({"newest": _iso(newest)} if newest else {})

        logged_in = self._credentials() is not None
        page_cursor: str | None = None
        until = start = top
        uris: set[str] = set()
        oldest: datetime | None = None
        for _page in range(self.options.max_pages):
            params: dict[str, Any] = {
                "q": q,
                "sort": "latest",
                "limit": self.options.limit,
                "since": _iso(lower),
            }
            if until is not None:  # a cursor belongs to the query it came from: keep its until
                params["until"] = _iso(until)
            if page_cursor:
                params["cursor"] = page_cursor
            via_cursor = page_cursor is not None
            try:
                data = self._get("app.bsky.feed.searchPosts", params)
            except SourceError as exc:
                if until is None or logged_in or exc.kind != "needs_credentials":
                    raise
                # the public host will not page back: the step ends where it let us see
                states[q] = close()
                yield Page([], term_cursor(states))
                return
            posts = data.get("posts") if isinstance(data, dict) else None
            stamps = [t for t in map(sort_at, posts or []) if t is not None]
            dids = [p["author"]["did"] for p in posts or [] if _has_did(p)]
            mentions, skipped = self._parse(data, self._followers(dids))
            # nothing older than a backfill's window; nothing this walk already yielded
            mentions = [
                m
                for m in mentions
                if m.external_id not in uris and (not backfill or m.created_at >= lower)
            ]
            uris.update(m.external_id for m in mentions)
            newest = max([*stamps, *([newest] if newest else [])], default=None)
            oldest = min([*stamps, *([oldest] if oldest else [])], default=None)
            ended, next_until = self._next(data, stamps, lower, via_cursor, oldest, logged_in)
            if not ended and until is not None and next_until is not None and next_until >= until:
                # More than `limit` posts in the millisecond below `until` and no cursor to
                # page through them: step below it (`until` is exclusive) rather than ask for
                # it forever. Its posts past the `limit` the server returned are not fetched.
                next_until = until - timedelta(milliseconds=1)
            if ended:
                states[q] = close()
            else:
                assert oldest is not None
                # what is stored covers the step from its top down to the oldest millisecond
                # read (inclusive: its other posts may still come), so the gap is below that
                cover = _ms(oldest) + timedelta(milliseconds=1)
                if next_until is not None and next_until < cover:
                    cover = next_until
                if top is not None and top < cover:
                    cover = top
                top = cover
                states[q] = gap(cover)
            yield Page(mentions, term_cursor(states), skipped)
            if ended:
                return
            more = data.get("cursor")
            if next_until is None and posts and logged_in and isinstance(more, str) and more:
                page_cursor = more
                continue
            page_cursor, until = None, next_until
        # max_pages read: the gap stays open in the cursor for the next walk. A walk that
        # could not lower it (more than max_pages x limit posts in its top millisecond, paged
        # by cursor) steps below that millisecond, or every walk would read the same pages.
        if start is not None and top is not None and top >= start:
            states[q] = gap(start - timedelta(milliseconds=1))
            yield Page([], term_cursor(states))

    def _next(
        self,
        data: Any,
        stamps: list[datetime],
        lower: datetime,
        via_cursor: bool,
        oldest: datetime | None,
        logged_in: bool,
    ) -> tuple[bool, datetime | None]:
        """After a page: (the step reached its end, the `until` of the next page or None)."""
        if stamps and min(stamps) < lower:
            return True, None  # down to the bound
        posts = data.get("posts") if isinstance(data, dict) else None
        more = data.get("cursor") if isinstance(data, dict) else None
        n = len(posts or [])
        if not more and (0 < n < self.options.limit or (n == 0 and not via_cursor)):
            return True, None  # a short last page, or an empty answer to a plain query
        if oldest is None:
            return True, None  # nothing dated to page back from
        if posts and logged_in and isinstance(more, str) and more:
            return False, None  # the cursor leads on
        # Where no cursor leads on (the public host refuses them; a full or an empty page
        # came without one) ask `until`, exclusive: 1 ms above the oldest brings back its
        # millisecond's posts, which are deduplicated.
        return False, _ms(oldest) + timedelta(milliseconds=1)


def term_states(cursor: Mapping[str, Any] | None, terms: list[str]) -> dict[str, dict[str, Any]]:
    """Per-term step states from a saved cursor; the old `{"since": X}` shape applies to all."""
    saved = (cursor or {}).get("terms")
    if isinstance(saved, dict):  # a term added to the config since starts with a backfill
        out = {q: dict(v) if isinstance(v := saved.get(q), dict) else {} for q in terms}
        # a malformed open state starts its term afresh rather than failing every poll
        return {q: st if _valid(st) else {} for q, st in out.items()}
    old = (cursor or {}).get("since")
    return {q: ({"since": str(old)} if old else {}) for q in terms}


def term_cursor(states: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of the states as a cursor: a page's cursor must not change after it is yielded."""
    return {"terms": {q: dict(st) for q, st in states.items()}}


def _valid(st: Mapping[str, Any]) -> bool:
    try:
        for key in ("since", "floor", "gap_until", "newest"):
            if st.get(key) is not None:
                _http.iso(st[key])
    except (TypeError, ValueError):
        return False
    return not is_open(st) or "floor" in st


def is_open(st: Mapping[str, Any]) -> bool:
    """A step is under way: the next walk continues its gap rather than starting at the top."""
    return "gap_until" in st


def _ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def _has_did(post: Any) -> bool:
    return (
        isinstance(post, dict) and isinstance(post.get("author"), dict) and "did" in post["author"]
    )

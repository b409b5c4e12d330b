"""Mastodon full-text search: the walk down each term's window, and its cursor.

`SearchWalk` holds MastodonListener's search methods (a mixin: the listener
supplies `ctx`, `options` and the HTTP methods stubbed below); the functions
after it keep one step state per term and compute each request's `min_id` and
`max_id`. The cursor they save is described in listeners/mastodon.py.

Full-text search, as Mastodon 4.2-4.5 runs it (read in mastodon/mastodon:
app/services/statuses_search_service.rb, app/lib/search_query_transformer.rb,
app/chewy/statuses_index.rb, app/controllers/api/v2/search_controller.rb; the
4.2 changelog's "full-text search of opted-in public posts and rework search
operators", PRs 26344 and 26485):
- Results are newest first, not by relevance: `StatusesSearchService` asks
  Elasticsearch for `.collapse(field: :id).order(id: {order: :desc})`, then
  `limit`/`offset`. (Up to 4.1 they came by relevance, and full-text search
  only saw the token owner's own and interacted-with posts.)
- `min_id`/`max_id` are honoured, but as time bounds in whole seconds:
  `convert_deprecated_options!` turns them into `after:"T"`/`before:"T"` with
  `T = Snowflake.to_time(id).iso8601` (`Time.at((id >> 16) / 1000)`), i.e. a
  range on `created_at` (`gt`/`lt`). Elasticsearch fills a `gt` bound's
  missing fraction with .999 ("missing date components"), so min_id's and
  max_id's own seconds are both left out.
- Statuses the server filters for the token's account (blocked, muted,
  limited accounts) and index hits whose status is gone are dropped *after*
  `limit`/`offset`, so a short page is not the end; only an empty one is.
- A remote status's id is `Snowflake.id_at(created_at)` (same second); a
  local one's comes from `timestamp_id()`, i.e. PostgreSQL's `now()`, the
  start of its transaction, a moment before Rails sets created_at (which can
  fall in the next second).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from earful.models import Page
from listeners import _http
from listeners._mastodon_common import (
    _SNOWFLAKE_MIN_MS,
    ListenerHooks,
    _json,
    id_at,
    id_key,
    newest_id,
    rescan_from,
    time_of,
)
from listeners.base import Context, Query, SourceError

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.mastodon import MastodonOptions


def search_queries(query: Query) -> list[str]:
    """Mastodon search ANDs words, so each configured term is its own search."""
    if query.override:
        return [query.override]
    return [f'"{t}"' if exact else t for t, exact in _http.search_terms(query.terms)]


class SearchWalk(ListenerHooks):
    """MastodonListener's full-text search, one step per term (mixed into the listener)."""

    ctx: Context
    options: MastodonOptions

    def _poll_search(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        if not self._headers():
            raise SourceError("needs_credentials", "Mastodon full-text search needs token_env")
        terms = search_queries(query)
        states = search_states(cursor, terms)
        for q in terms:
            yield from self._search_term(q, states)
        # a step cut short by max_pages: the poller walks again (--once) or comes back soon
        yield Page([], None, done=True, more=any(is_open(st) for st in states.values()))

    def _search_term(self, q: str, states: dict[str, dict[str, Any]]) -> Iterator[Page]:
        """At most `max_pages` pages of one term's step; each page carries the whole cursor."""
        st = states[q]
        now = self.ctx.clock()
        limit = self.options.limit
        mark = st.get("min_id")
        since = search_min_id(mark, timedelta(seconds=self.options.overlap_seconds), now)
        cutoff = None if mark else now - self.ctx.source.backfill
        for _ in range(self.options.max_pages):
            top = st.get("gap_max_id")
            # below the watermark only stored posts (and late ones) are left: bounded re-read
            rereading = bool(mark and top and id_key(top) <= id_key(mark))
            if rereading and st.get("reread", 0) >= self.options.max_pages // 2:
                close_step(st)
                yield Page([], search_cursor(states))
                return
            params: dict[str, Any] = {"q": q, "type": "statuses", "limit": limit}
            for name, value in (("min_id", since), ("max_id", top), ("offset", st.get("offset"))):
                if value:
                    params[name] = value
            payload = _json(self._get("/api/v2/search", params))
            if not isinstance(payload, dict):
                raise SourceError("bad_payload", "Mastodon search results are not an object")
            mentions, skipped = self._parse(payload)
            items = payload.get("statuses") or []
            ids = [str(s["id"]) for s in items if isinstance(s, dict) and s.get("id")]
            st["newest"] = newest_id(ids, st.get("newest") or mark)
            if rereading:
                st["reread"] = st.get("reread", 0) + 1
            oldest = min((m.created_at for m in mentions), default=None)
            if cutoff is not None:
                mentions = [m for m in mentions if m.created_at >= cutoff]
            if not items or (cutoff is not None and oldest is not None and oldest < cutoff):
                close_step(st)
            else:
                next_window(st, ids, full=len(items) >= limit, now=now, limit=limit)
            yield Page(mentions, search_cursor(states), skipped)
            if not is_open(st):
                return


def search_states(cursor: Mapping[str, Any] | None, terms: list[str]) -> dict[str, dict[str, Any]]:
    """Per-term walk states from a saved cursor; the old `{"min_id": X}` shape applies to all."""
    saved = (cursor or {}).get("terms")
    if isinstance(saved, dict):  # a term added to the config since starts with a backfill
        return {q: dict(v) if isinstance(v := saved.get(q), dict) else {} for q in terms}
    old = (cursor or {}).get("min_id")
    return {q: ({"min_id": str(old)} if old else {}) for q in terms}


def search_cursor(states: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"terms": {q: dict(st) for q, st in states.items()}}


def is_open(st: Mapping[str, Any]) -> bool:
    """A step is under way: the next request continues its gap rather than starting at the top."""
    return "gap_max_id" in st or "offset" in st


def close_step(st: dict[str, Any]) -> None:
    """The window down to the watermark is covered: the next step starts above the newest id."""
    newest = st.get("newest") or st.get("min_id")
    st.clear()
    if newest:
        st["min_id"] = newest


def next_window(
    st: dict[str, Any], ids: list[str], *, full: bool, now: datetime, limit: int
) -> None:
    """Narrow the gap below this page (newest-first results) or page on by `offset`.

    Narrowing needs a full, newest-first page whose lowest id lowers `max_id`;
    otherwise (a page shortened by the server's filters, more than a page in
    the top seconds of the window, results in another order) the same window
    is paged by `offset`: the server counts `limit` hits per page before it
    filters, and new posts only arrive above, so nothing is skipped.
    """
    top = st.get("gap_max_id")
    ordered = ids == sorted(ids, key=id_key, reverse=True)
    below = search_max_id(min(ids, key=id_key), now) if ids and ordered and full else None
    if below is not None and (top is None or id_key(below) < id_key(top)):
        st["gap_max_id"] = below
        st.pop("offset", None)
    else:
        st["offset"] = int(st.get("offset") or 0) + limit


# Mastodon minted a local status's id at the start of its transaction and its
# created_at a moment later: the two can fall in neighbouring seconds.
_SKEW_SECONDS = 1


def search_min_id(mark: str | None, overlap: timedelta, now: datetime) -> str | None:
    """The `min_id` that keeps the watermark's whole second (and the overlap) in the window."""
    if not mark:
        return None
    start = rescan_from(mark, overlap, now) or mark
    ms = time_of(start, now)
    if ms is None:  # not a snowflake: the documented "newer than this id"
        return start
    # Mastodon searches `after:"<min_id's second>"`, which leaves that second out
    return id_at(max(_SNOWFLAKE_MIN_MS, (ms // 1000 - 1) * 1000))


def search_max_id(lowest: str, now: datetime) -> str:
    """The `max_id` that keeps every status below `lowest` in the window, its second included."""
    ms = time_of(lowest, now)
    if ms is None:  # not a snowflake: the documented "older than this id"
        return lowest
    # `before:"<max_id's second>"` excludes that second: start one above, plus the skew
    return id_at((ms // 1000 + 1 + _SKEW_SECONDS) * 1000)

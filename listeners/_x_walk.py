"""X recent search: the since_id walk, its gap fill and the 7-day backfill window.

`RecentWalk` holds XListener's paging (a mixin: the listener supplies `ctx`,
`options`, `base_url` and the parse method stubbed below); it takes the query
already built by `build_query` and parses through the listener's `_parse`, so
this module need not import the listener's. The cursor (since_id, next_token,
the gap left by a walk cut short) is described in listeners/x.py.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from earful.models import Mention, Page
from listeners import _http
from listeners.base import Context

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.x import XOptions

TWEET_FIELDS = (
    "created_at,lang,public_metrics,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "author_id,edit_history_tweet_ids,note_tweet"
)
USER_FIELDS = "username,name,public_metrics,verified"
SEARCH_WINDOW = timedelta(days=7)
TWEPOCH_MS = 1288834974657


def snowflake_time(tweet_id: str) -> datetime | None:
    """When an X id was minted (ids are Snowflakes: milliseconds since 2010-11-04 << 22)."""
    try:
        return _http.epoch(((int(tweet_id) >> 22) + TWEPOCH_MS) / 1000)
    except (TypeError, ValueError, OverflowError):
        return None


def _older(tweet_id: str, bound: datetime) -> bool:
    at = snowflake_time(tweet_id)
    return at is not None and at < bound


def _rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class RecentWalk:
    """XListener's since_id walk and gap fill (mixed into the listener)."""

    ctx: Context
    options: XOptions
    base_url: str

    # XListener's own method (listeners/x.py) replaces this
    def _parse(self, data: Any) -> tuple[list[Mention], int]:
        raise NotImplementedError

    def _search(
        self, q: str, token: str, cursor: dict[str, Any] | None
    ) -> Generator[Page, None, None]:
        """Fill the gap a previous poll left (while X still reaches it), then walk from since_id."""
        cur = dict(cursor or {})
        oldest_reachable = self.ctx.clock() - SEARCH_WINDOW + timedelta(minutes=1)
        if cur.get("until_id") and _older(cur["until_id"], oldest_reachable):
            cur = {"since_id": cur.get("next_since_id")}  # the gap left the 7-day window
        if cur.get("since_id") and _older(cur["since_id"], oldest_reachable):
            # a since_id older than 7 days is refused (400): start from the window, and
            # still fill only the unfinished gap when there is one (not re-buy what is above it)
            cur = (
                {**cur, "since_id": None, "start_time": _rfc3339(oldest_reachable)}
                if cur.get("until_id")
                else {}
            )
        if cur.get("until_id"):  # finish the walk a previous poll had to cut short
            cur = yield from self._walk(q, token, cur, gap=True)
            if cur.get("until_id"):
                return
        yield from self._walk(q, token, cur, gap=False)

    def _walk(
        self, q: str, token: str, cur: dict[str, Any], gap: bool
    ) -> Generator[Page, None, dict[str, Any]]:
        """One since_id walk; returns the cursor it saved (via `yield from`)."""
        params: dict[str, Any] = {
            "query": q,
            "max_results": self.options.max_results,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": USER_FIELDS,
        }
        if cur.get("since_id"):
            params["since_id"] = cur["since_id"]
        else:  # first poll: backfill within the 7-day window the endpoint allows
            now = self.ctx.clock()
            reach = now - SEARCH_WINDOW + timedelta(minutes=1)
            start = now - min(self.ctx.source.backfill, SEARCH_WINDOW - timedelta(minutes=1))
            if gap and cur.get("start_time"):
                # an unfinished backfill keeps the start it began with (a fresh `now - backfill`
                # would drop its oldest stretch), as far back as X still reaches
                start = max(_http.iso(cur["start_time"]), reach)
            params["start_time"] = _rfc3339(start)
        if gap:
            params["until_id"] = cur["until_id"]
        headers = {"Authorization": f"Bearer {token}"}
        first_newest: str | None = cur.get("next_since_id") if gap else None
        oldest: str | None = None
        url = f"{self.base_url}/2/tweets/search/recent"
        for page in range(self.options.max_pages):
            data = _http.get_json(self.ctx, url, params=params, headers=headers)
            mentions, skipped = self._parse(data)
            meta = data.get("meta") or {}
            if page == 0 and not gap:
                first_newest = meta.get("newest_id")
            oldest = meta.get("oldest_id") or oldest
            token_next = meta.get("next_token")
            if not token_next:
                yield Page(mentions, None, skipped)
                break
            yield Page(mentions, None, skipped)
            params = {**params, "next_token": token_next}
        else:
            # cut short: keep the old since_id and remember the unfilled gap below `oldest`
            new = {
                "since_id": cur.get("since_id"),
                "until_id": oldest,
                "next_since_id": first_newest,
            }
            if not cur.get("since_id"):
                new = {
                    "since_id": None,
                    "until_id": oldest,
                    "next_since_id": first_newest,
                    "start_time": params.get("start_time"),
                }
            # `more`: the poller walks on at once with --once, and polls again soon otherwise
            yield Page([], new, done=True, more=True)
            return new
        newest = first_newest or cur.get("since_id")
        new = {"since_id": newest} if newest else {}
        yield Page([], new or None, done=not gap)  # after a gap fill, the normal walk follows
        return new

"""X (Twitter): API v2 recent search with an app-only bearer token.

Endpoint: `GET {base_url}/2/tweets/search/recent?query=(TERMS) -is:retweet&max_results=100
&since_id=W&next_token=N&tweet.fields=...&expansions=author_id&user.fields=...`.
Only the last 7 days are searchable; a first poll backfills with `start_time`, and
so does a poll whose `since_id` has left the window (X refuses it with a 400;
ids are Snowflakes, so their age is known without asking).

Auth in 2026: a bearer token (`token_env`) and paid credits (pay-per-use,
$0.005 per post read, no free read tier). 401/403 -> "needs credentials".

Limits: 450 requests / 15 min per app; `x-rate-limit-reset` is epoch seconds.

Cursor, the documented since_id + next_token rule: request with
`since_id=<watermark>`; while `next_token` comes back, page with the **same**
`since_id`; the next watermark is the **first** page's `meta.newest_id`, saved
only after every page is stored. A walk cut short by `max_pages` saves
`{"since_id": old, "until_id": oldest seen, "next_since_id": newest}` and the
next poll first fills that gap (since_id..until_id) before moving on, so
nothing is lost and nothing is bought twice. A first poll cut short saves its
`start_time` instead of a since_id, and the gap fill starts there. The page
that leaves a gap says `more`, so `--once` fills it in the same run and a
scheduled poll comes back at once rather than after `every`.
external_id = the first of `edit_history_tweet_ids` (stable across edits);
native_id = `id`. Text is `note_tweet.text` for long posts, else `text`.

Recheck (`gone`, earful/recheck.py): `GET {base_url}/2/tweets?ids=...` (100 per
call, by native id): an id listed in `errors` as `resource-not-found` (deleted)
or `not-authorized-for-resource` (protected since) is gone; an id returned in
`data` is not. An id in neither, or any other error type, ends the round with
nothing purged. Cost: each post still there is a post read ($0.005, not
charged again within the same UTC day).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners import _http
from listeners._x_recheck import TweetRecheck, tweet_lookup
from listeners._x_walk import RecentWalk, snowflake_time
from listeners.base import Listener, Query, SourceError, parse_each

PLATFORM = "x"


class XOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_env: str | None = None
    max_results: int = Field(100, ge=10, le=100)
    max_pages: int = Field(10, ge=1, le=100)


def build_query(query: Query) -> str:
    """`(acme OR "acme cloud") -is:retweet`; an override gets `-is:retweet` added if missing."""
    if query.override:
        q = query.override
    else:
        terms = [f'"{t}"' if exact else t for t, exact in _http.search_terms(query.terms)]
        q = terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"
    return q if "is:retweet" in q else f"{q} -is:retweet"


def parse_tweet(
    tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], source: str | None = None
) -> Mention | None:
    """One Tweet (with its author from includes.users) -> Mention; retweets -> None."""
    refs = tweet.get("referenced_tweets") or []
    if any(r.get("type") == "retweeted" for r in refs):
        return None
    tid = str(tweet["id"])
    user = users.get(str(tweet.get("author_id"))) or {}
    username = str(user.get("username") or "i")
    note = tweet.get("note_tweet") or {}
    text = note.get("text") or tweet["text"]
    history = tweet.get("edit_history_tweet_ids") or [tid]
    metrics = tweet.get("public_metrics") or {}
    followers = (user.get("public_metrics") or {}).get("followers_count")
    lang = tweet.get("lang")
    return new_mention(
        platform=PLATFORM,
        external_id=str(history[0]),
        url=f"https://x.com/{username}/status/{tid}",
        author=username if user else str(tweet.get("author_id") or ""),
        text=_http.html_to_text(text) if "&" in text else str(text),
        created_at=_http.iso(tweet["created_at"]),
        author_followers=followers if isinstance(followers, int) else None,
        lang=lang if lang and lang not in ("und", "qme", "zxx") else None,
        in_reply_to=next((str(r["id"]) for r in refs if r.get("type") == "replied_to"), None),
        thread_id=tweet.get("conversation_id"),
        native_id=tid,
        engagement=sum(
            int(metrics.get(k) or 0)
            for k in ("like_count", "retweet_count", "reply_count", "quote_count")
        ),
        raw=dict(tweet),
        source=source,
    )


def parse(payload: Any, source: str | None = None) -> tuple[list[Mention], int]:
    """A recent-search response -> (mentions deduplicated by first edit id, malformed skipped)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("meta", {}), dict):
        raise SourceError("bad_payload", "X sent something that is not a search response")
    tweets = payload.get("data") or []
    users = {
        str(u["id"]): u
        for u in (payload.get("includes") or {}).get("users") or []
        if isinstance(u, dict) and "id" in u
    }
    return parse_each(
        tweets if isinstance(tweets, list) else [], lambda t: parse_tweet(t, users, source)
    )


class XListener(RecentWalk, TweetRecheck, Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = XOptions
    default_base_url = "https://api.x.com"
    sees = (
        "X recent search sees public posts from the last 7 days (no retweets), paid per post read."
    )
    deletions = "A post deleted or protected since it was stored is reported so by /2/tweets."
    options: XOptions

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        token = self.ctx.secret("token_env")
        if not token:
            raise SourceError(
                "needs_credentials", "X recent search needs a bearer token (token_env)"
            )
        yield from self._search(build_query(query), token, cursor)

    # RecentWalk parses through this method: listeners/_x_walk.py cannot import parse()
    def _parse(self, data: Any) -> tuple[list[Mention], int]:
        return parse(data, self.ctx.source.key)

    # the walk itself: RecentWalk (listeners/_x_walk.py); recheck: TweetRecheck (_x_recheck.py)


__all__ = ["XListener", "build_query", "parse", "parse_tweet", "snowflake_time", "tweet_lookup"]

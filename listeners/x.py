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

from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from earful.models import Mention, Page, new_mention
from listeners import _http
from listeners.base import Listener, Query, SourceError, StoredPost, check_asked, parse_each

PLATFORM = "x"
TWEET_FIELDS = (
    "created_at,lang,public_metrics,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "author_id,edit_history_tweet_ids,note_tweet"
)
USER_FIELDS = "username,name,public_metrics,verified"
SEARCH_WINDOW = timedelta(days=7)
TWEPOCH_MS = 1288834974657
# `errors[].type` suffixes that say this one post is gone for us: deleted, or protected since
GONE_TYPES = ("/problems/resource-not-found", "/problems/not-authorized-for-resource")


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


def tweet_lookup(payload: Any) -> tuple[set[str], set[str]]:
    """A /2/tweets answer -> (ids returned, ids reported deleted or protected). Pure.

    Any other error (rate limits, bad parameters, an unknown type) raises: it
    says nothing definitive about one post.
    """
    if not isinstance(payload, dict):
        raise SourceError("bad_payload", "recheck: X sent no JSON object")
    data, errors = payload.get("data") or [], payload.get("errors") or []
    if not isinstance(data, list) or not isinstance(errors, list):
        raise SourceError("bad_payload", "recheck: X sent an unexpected shape")
    try:
        found = {str(t["id"]) for t in data}
        missing = set()
        for e in errors:
            kind = str(e.get("type") or "")
            if e.get("parameter") != "ids" or not kind.endswith(GONE_TYPES):
                raise SourceError("bad_payload", f"recheck: X error {kind or e}")
            missing.add(str(e.get("resource_id") or e["value"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise SourceError("bad_payload", "recheck: X sent an unexpected shape") from exc
    return found, missing


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


class XListener(Listener):
    platform = PLATFORM
    Options: ClassVar[type[BaseModel]] = XOptions
    default_base_url = "https://api.x.com"
    sees = (
        "X recent search sees public posts from the last 7 days (no retweets), paid per post read."
    )
    deletions = "A post deleted or protected since it was stored is reported so by /2/tweets."
    options: XOptions

    def rechecks(self) -> bool:
        return bool(self.ctx.secret("token_env"))

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """Posts /2/tweets reports not found or not authorized (by native id)."""
        token = self.ctx.secret("token_env")
        by_id = {p.native_id: p.external_id for p in posts if p.native_id and p.native_id.isdigit()}
        ids = list(by_id)
        out: list[str] = []
        for i in range(0, len(ids), 100):
            batch = ids[i : i + 100]
            data = _http.get_json(
                self.ctx,
                f"{self.base_url}/2/tweets",
                params={"ids": ",".join(batch)},
                headers={"Authorization": f"Bearer {token}"},
            )
            found, missing = tweet_lookup(data)
            check_asked(batch, found | missing)
            if set(batch) - found - missing:  # neither returned nor reported: not definitive
                raise SourceError("bad_payload", "recheck: X left some ids unanswered")
            out += [by_id[t] for t in batch if t in missing and t not in found]
        return tuple(out)

    def poll(self, query: Query, cursor: dict[str, Any] | None) -> Iterator[Page]:
        token = self.ctx.secret("token_env")
        if not token:
            raise SourceError(
                "needs_credentials", "X recent search needs a bearer token (token_env)"
            )
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
            cur = yield from self._walk(query, token, cur, gap=True)
            if cur.get("until_id"):
                return
        yield from self._walk(query, token, cur, gap=False)

    def _walk(
        self, query: Query, token: str, cur: dict[str, Any], gap: bool
    ) -> Generator[Page, None, dict[str, Any]]:
        """One since_id walk; returns the cursor it saved (via `yield from`)."""
        params: dict[str, Any] = {
            "query": build_query(query),
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
            mentions, skipped = parse(data, self.ctx.source.key)
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

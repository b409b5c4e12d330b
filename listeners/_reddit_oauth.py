"""Reddit with an approved OAuth app: the access token, `sort=new` search pages, the recheck.

`OAuthApp` holds what RedditListener does only when app credentials are
configured (a mixin: the listener supplies `ctx`, `options`, `base_url` and the
methods stubbed below): the client-credentials token kept in `ctx.state`, the
walk down the JSON search Listing (it takes the query already built and parses
through the listener's `_parse`, so this module need not import the listener's)
and the `/api/info` lookup behind `gone`. Endpoints, limits and the cursor are
described in listeners/reddit.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from earful.models import Mention
from listeners import _http
from listeners._reddit_common import _KINDS, gone_ids, thing_gone
from listeners._reddit_walk import _stamps, time_window, walk_state
from listeners.base import Context, SourceError, StoredPost, check_asked

if TYPE_CHECKING:  # the listener module imports this one
    from listeners.reddit import RedditOptions


class OAuthApp:
    """RedditListener's OAuth token, search walk and recheck (mixed into the listener)."""

    ctx: Context
    options: RedditOptions
    base_url: str

    # RedditListener's own methods (listeners/reddit.py) replace these
    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _parse(self, data: Any) -> tuple[list[Mention], int]:
        raise NotImplementedError

    def _token_key(self) -> str:
        return f"reddit:token:{self.base_url}:{self.ctx.secret('client_id_env')}"

    def _token(self) -> str | None:
        cid, secret = self.ctx.secret("client_id_env"), self.ctx.secret("client_secret_env")
        if not (cid and secret):
            return None
        key = self._token_key()
        now = self.ctx.clock()
        cached = self.ctx.state.get(key)
        if cached and now < cached[1]:
            return str(cached[0])
        try:
            resp = _http.request(
                self.ctx,
                "POST",
                f"{self.base_url}/api/v1/access_token",
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(cid, secret),
                headers=self._headers(),
                attempts=2,
            )
            data = resp.json()
            token, ttl = str(data["access_token"]), float(data.get("expires_in") or 3600)
        except SourceError as exc:
            if exc.kind == "needs_credentials":
                raise SourceError(
                    "needs_credentials",
                    "Reddit refused the app credentials (client_id_env, client_secret_env)",
                ) from exc
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError("bad_payload", "Reddit sent no access token") from exc
        self.ctx.state[key] = (token, now + timedelta(seconds=max(60.0, ttl - 60)))
        return token

    def rechecks(self) -> bool:
        return bool(self.ctx.secret("client_id_env") and self.ctx.secret("client_secret_env"))

    def gone(self, posts: Sequence[StoredPost]) -> tuple[str, ...]:
        """Fullnames /api/info shows deleted or removed, or no longer lists (OAuth only)."""
        token = self._token()
        if not token:
            return ()
        names = list(dict.fromkeys(p.external_id for p in posts if p.external_id[:3] in _KINDS))
        url = f"{self.options.oauth_url.rstrip('/')}/api/info"
        headers = {**self._headers(), "Authorization": f"bearer {token}"}
        out: list[str] = []
        for i in range(0, len(names), 100):
            batch = names[i : i + 100]
            data = _http.get_json(
                self.ctx, url, params={"id": ",".join(batch), "raw_json": 1}, headers=headers
            )
            try:
                children = data["data"]["children"]
                seen = {str(c["data"]["name"]): thing_gone(c) for c in children}
            except (KeyError, TypeError, AttributeError) as exc:
                raise SourceError("bad_payload", "recheck: Reddit sent no listing") from exc
            check_asked(batch, seen)
            out += [n for n in batch if seen.get(n, True)]
        return tuple(out)

    def _poll_oauth(
        self, q: str, token: str, now: datetime, lower: float, anchor: str | None
    ) -> Iterator[tuple[list[Mention], int, list[float], str, str | None, tuple[str, ...]]]:
        sub = self.options.subreddit
        url = f"{self.options.oauth_url.rstrip('/')}/r/{quote(sub)}/search"
        params: dict[str, Any] = {
            "q": q,
            "sort": "new",
            "t": time_window(now.timestamp() - lower),
            "limit": self.options.limit,
            "raw_json": 1,
            "restrict_sr": int(sub != "all"),
            "type": "link",
        }
        if anchor:
            params["after"] = anchor
        headers = {**self._headers(), "Authorization": f"bearer {token}"}
        for _page in range(self.options.max_pages):
            try:
                data = _http.get_json(self.ctx, url, params=params, headers=headers)
            except SourceError as exc:
                if exc.kind == "needs_credentials":  # a revoked token: fetch a new one next time
                    self.ctx.state.pop(self._token_key(), None)
                raise
            mentions, skipped = self._parse(data)
            stamps = _stamps(data)
            after = data["data"].get("after")
            size = len(data["data"]["children"])
            anchored = "after" in params
            state = walk_state(anchored, size, stamps, bool(after), lower, self.options.limit)
            yield mentions, skipped, stamps, state, str(after) if after else None, gone_ids(data)
            if state != "more":
                return
            params = {**params, "after": after}

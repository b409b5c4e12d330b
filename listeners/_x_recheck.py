"""X recheck: which stored posts `/2/tweets` reports deleted or protected.

`TweetRecheck` holds XListener's `rechecks` and `gone` (a mixin: the listener
supplies `ctx` and `base_url`); `tweet_lookup` reads one answer, purely. What
counts as gone, and what a lookup costs, is described in listeners/x.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from listeners import _http
from listeners.base import Context, SourceError, StoredPost, check_asked

# `errors[].type` suffixes that say this one post is gone for us: deleted, or protected since
GONE_TYPES = ("/problems/resource-not-found", "/problems/not-authorized-for-resource")


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


class TweetRecheck:
    """XListener's lookup of stored posts by id (mixed into the listener)."""

    ctx: Context
    base_url: str

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

"""Per-platform reply senders: one function per platform behind one signature.

Each sender takes a `SendContext` and returns `Posted`, or raises `NotSent`
(the platform certainly did not post it) or `Unknown` (it may have). Calls
before the reply (lookup, login) go through `_prepare`; the reply itself is
exactly one `_post_once`. The at-most-once bookkeeping around them lives in
earful.replies; `not_ready` holds the per-platform checks behind `can_send`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from earful.config import ReplyAccount, Settings
from earful.models import Mention

DEFAULT_BASE: dict[str, str] = {
    "bluesky": "https://bsky.social",
    "x": "https://api.x.com",
    "reddit": "https://oauth.reddit.com",
}
X_RULE = "manual reply: X allows API replies only when the author mentioned you"
USER_AGENT = "earful/0.1 (reply sender)"


class NotSent(Exception):
    """The platform certainly did not post the reply."""


class Unknown(Exception):
    """The reply may or may not have been posted."""


@dataclass(frozen=True, slots=True)
class Posted:
    platform_id: str | None
    url: str | None
    note: str | None = None


# -- per-platform readiness (behind can_send) ------------------------------------
def field(m: Mention | Mapping[str, Any], name: str) -> Any:
    return m.get(name) if isinstance(m, Mapping) else getattr(m, name, None)


def x_handle(settings: Settings, acct: ReplyAccount) -> str | None:
    if acct.handle:
        return acct.handle.lstrip("@")
    for h in settings.brand.handles:  # "@acme" (not "acme@host" or "acme.bsky.social")
        if h.startswith("@") and "@" not in h[1:] and "." not in h:
            return h[1:]
    return None


def _mentions_handle(text: str, raw: Any, handle: str) -> bool:
    if re.search(rf"(?<![\w@])@{re.escape(handle)}\b", text or "", re.IGNORECASE):
        return True
    ents = (raw or {}).get("entities", {}) if isinstance(raw, dict) else {}
    return any(
        str(e.get("username", "")).lower() == handle.lower() for e in ents.get("mentions", []) or []
    )


def _needed_secrets(platform: str, acct: ReplyAccount) -> list[str | None]:
    if platform == "bluesky":
        return [acct.identifier_env, acct.password_env]
    if platform == "reddit":
        return [acct.client_id_env, acct.client_secret_env, acct.identifier_env, acct.password_env]
    if platform == "lemmy" and not acct.token_env:
        return [acct.identifier_env, acct.password_env]
    return [acct.token_env]


def not_ready(
    settings: Settings,
    platform: str,
    acct: ReplyAccount,
    mention: Mention | Mapping[str, Any],
    link: str,
) -> str | None:
    """Why this platform's account cannot send this reply (None when it can)."""
    if platform in ("mastodon", "lemmy") and not acct.base_url:
        return f"{settings.path}: replies.{platform}.base_url: the brand's own instance is needed"
    needed = _needed_secrets(platform, acct)
    missing = [v or "(not named)" for v in needed if not v or not settings.secret(v)]
    if missing:
        return f"credentials missing for {platform} replies: set {', '.join(missing)}"
    if platform == "x":
        handle = x_handle(settings, acct)
        if not handle or not _mentions_handle(
            str(field(mention, "text") or ""), field(mention, "raw"), handle
        ):
            return f"{X_RULE}{link}"
    if platform == "bluesky" and "|" not in str(field(mention, "native_id") or ""):
        return f"reply manually (the post's content id is unknown){link}"
    return None


def creation_time(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# -- HTTP, classified ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SendContext:
    settings: Settings
    acct: ReplyAccount
    mention: dict[str, Any]
    text: str
    key: str
    client: httpx.Client
    now: datetime
    created: str

    def base(self, platform: str) -> str:
        return (self.acct.base_url or DEFAULT_BASE.get(platform, "")).rstrip("/")

    def secret(self, var: str | None) -> str:
        return self.settings.secret(var) or ""


def _brief(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        if isinstance(data, dict):
            msg = data.get("error") or data.get("message") or data.get("detail") or data
            return f"HTTP {resp.status_code}: {str(msg)[:300]}"
    except ValueError:
        pass
    return f"HTTP {resp.status_code}: {resp.text[:200]}"


def _prepare(client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
    """A call before the reply (lookup, login): any failure means nothing was posted."""
    try:
        resp = client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise NotSent(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc
    if resp.status_code >= 400:
        raise NotSent(f"{method} {url}: {_brief(resp)}")
    try:
        return resp.json()
    except ValueError as exc:
        raise NotSent(f"{method} {url}: the answer was not JSON") from exc


def _post_once(client: httpx.Client, url: str, **kw: Any) -> Any:
    """The reply itself: one POST, classified into posted / not posted / unknown."""
    try:
        resp = client.post(url, **kw)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise NotSent(f"could not connect: {exc.__class__.__name__}") from exc
    except httpx.HTTPError as exc:  # sent, then lost: timeout, reset, protocol error
        raise Unknown(f"{exc.__class__.__name__} after sending: verify on the platform") from exc
    if 400 <= resp.status_code < 500:
        raise NotSent(_brief(resp))
    if resp.status_code >= 500 or resp.status_code < 200 or resp.status_code >= 300:
        raise Unknown(f"{_brief(resp)}: the platform may have posted it, verify")
    try:
        return resp.json()
    except ValueError:
        return None


def _g(data: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(data, dict):
            return None
        data = data.get(p)
    return data


# -- platforms -----------------------------------------------------------------
def _mastodon(c: SendContext) -> Posted:
    base, token = c.base("mastodon"), c.secret(c.acct.token_env)
    auth = {"Authorization": f"Bearer {token}"}
    ref = (
        c.mention["external_id"]
        if str(c.mention["external_id"]).startswith("http")
        else c.mention["url"]
    )
    found = _prepare(
        c.client,
        "GET",
        f"{base}/api/v2/search",
        params={"q": ref, "resolve": "true", "type": "statuses", "limit": "1"},
        headers=auth,
    )
    statuses = _g(found, "statuses") or []
    if not statuses or not isinstance(statuses[0], dict) or not statuses[0].get("id"):
        raise NotSent("the post could not be found from the brand's instance")
    text = c.text
    author = str(c.mention.get("author") or "").lstrip("@")
    if author and f"@{author}".lower() not in text.lower():
        text = f"@{author} {text}"  # Mastodon notifies only accounts mentioned in the text
    data = _post_once(
        c.client,
        f"{base}/api/v1/statuses",
        data={"status": text, "in_reply_to_id": str(statuses[0]["id"])},
        headers={**auth, "Idempotency-Key": c.key},
    )
    return _posted(_g(data, "id"), _g(data, "url") or _g(data, "uri"))


def _bluesky(c: SendContext) -> Posted:
    base = c.base("bluesky")
    session = _prepare(
        c.client,
        "POST",
        f"{base}/xrpc/com.atproto.server.createSession",
        json={
            "identifier": c.secret(c.acct.identifier_env),
            "password": c.secret(c.acct.password_env),
        },
    )
    jwt, did = _g(session, "accessJwt"), _g(session, "did")
    if not jwt or not did:
        raise NotSent("Bluesky login gave no session")
    uri, _, cid = str(c.mention["native_id"]).partition("|")
    parent = {"uri": uri, "cid": cid}
    root = _g(c.mention.get("raw"), "record", "reply", "root")
    if not (isinstance(root, dict) and root.get("uri") and root.get("cid")):
        root = parent
    rkey = tid_for(c.key, c.now)
    data = _post_once(
        c.client,
        f"{base}/xrpc/com.atproto.repo.createRecord",
        json={
            "repo": did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": c.text,
                "createdAt": c.created,
                "reply": {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": parent},
            },
        },
        headers={"Authorization": f"Bearer {jwt}"},
    )
    out_uri = _g(data, "uri")
    key = str(out_uri).rsplit("/", 1)[-1] if out_uri else rkey
    return _posted(out_uri, f"https://bsky.app/profile/{did}/post/{key}")


_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def tid_for(key: str, when: datetime) -> str:
    """A valid AT Protocol TID (13 chars) from the intent's time and key: the same intent, the same rkey."""
    micros = int(when.timestamp() * 1_000_000) & ((1 << 53) - 1)
    n = (micros << 10) | (int(key[:4], 16) % 1024)
    out = ""
    for _ in range(13):
        out = _B32[n & 31] + out
        n >>= 5
    return out


def _x(c: SendContext) -> Posted:
    base = c.base("x")
    target = str(c.mention.get("native_id") or c.mention["external_id"])
    data = _post_once(
        c.client,
        f"{base}/2/tweets",
        json={"text": c.text, "reply": {"in_reply_to_tweet_id": target}},
        headers={"Authorization": f"Bearer {c.secret(c.acct.token_env)}"},
    )
    tid = _g(data, "data", "id")
    handle = x_handle(c.settings, c.acct) or "i"
    return _posted(tid, f"https://x.com/{handle}/status/{tid}" if tid else None)


def _lemmy(c: SendContext) -> Posted:
    base = c.base("lemmy")
    jwt = c.secret(c.acct.token_env) if c.acct.token_env else ""
    if not jwt:
        login = _prepare(
            c.client,
            "POST",
            f"{base}/api/v3/user/login",
            json={
                "username_or_email": c.secret(c.acct.identifier_env),
                "password": c.secret(c.acct.password_env),
            },
        )
        jwt = str(_g(login, "jwt") or "")
        if not jwt:
            raise NotSent("Lemmy login gave no token")
    auth = {"Authorization": f"Bearer {jwt}"}
    found = _prepare(
        c.client,
        "GET",
        f"{base}/api/v3/resolve_object",
        params={"q": c.mention["external_id"]},
        headers=auth,
    )
    body: dict[str, Any] = {"content": c.text}
    if _g(found, "comment", "comment", "id") is not None:
        body["post_id"] = _g(found, "comment", "comment", "post_id")
        body["parent_id"] = _g(found, "comment", "comment", "id")
    elif _g(found, "post", "post", "id") is not None:
        body["post_id"] = _g(found, "post", "post", "id")
    else:
        raise NotSent("the post could not be found from the brand's instance")
    data = _post_once(c.client, f"{base}/api/v3/comment", json=body, headers=auth)
    comment = _g(data, "comment_view", "comment") or {}
    return _posted(comment.get("id"), comment.get("ap_id"))


def _reddit(c: SendContext) -> Posted:
    ua = c.acct.user_agent or USER_AGENT
    auth_base = (c.acct.auth_url or "https://www.reddit.com").rstrip("/")
    token = _prepare(
        c.client,
        "POST",
        f"{auth_base}/api/v1/access_token",
        data={
            "grant_type": "password",
            "username": c.secret(c.acct.identifier_env),
            "password": c.secret(c.acct.password_env),
        },
        auth=(c.secret(c.acct.client_id_env), c.secret(c.acct.client_secret_env)),
        headers={"User-Agent": ua},
    )
    access = _g(token, "access_token")
    if not access:
        raise NotSent(f"Reddit gave no access token: {str(_g(token, 'error') or '')[:100]}")
    data = _post_once(
        c.client,
        f"{c.base('reddit')}/api/comment",
        data={"thing_id": c.mention["external_id"], "text": c.text, "api_type": "json"},
        headers={"Authorization": f"bearer {access}", "User-Agent": ua},
    )
    errors = _g(data, "json", "errors")
    if errors:  # Reddit answers 200 with errors when it refused the comment
        raise NotSent(f"Reddit refused: {str(errors)[:300]}")
    things = _g(data, "json", "data", "things") or []
    d = things[0].get("data", {}) if things and isinstance(things[0], dict) else {}
    link = f"https://www.reddit.com{d['permalink']}" if d.get("permalink") else None
    return _posted(d.get("name") or d.get("id"), link)


def _posted(platform_id: Any, url: Any) -> Posted:
    note = None if platform_id else "accepted by the platform, but its answer had no reply id"
    return Posted(str(platform_id) if platform_id else None, str(url) if url else None, note)


SENDERS: dict[str, Callable[[SendContext], Posted]] = {
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "x": _x,
    "lemmy": _lemmy,
    "reddit": _reddit,
}

__all__ = [
    "NotSent",
    "Unknown",
    "Posted",
    "SendContext",
    "SENDERS",
    "not_ready",
    "tid_for",
    "X_RULE",
]

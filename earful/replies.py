"""Sending replies, at most once.

The order of events is the guarantee:

1. In one write transaction: refuse if the mention already has a reply that is
   `intent`, `unknown`, `sent` or `manual`; otherwise insert an `intent` row
   whose unique `idempotency_key` comes from the mention id, the normalised
   text and the number of earlier failed attempts. Commit.
2. Only then talk to the platform: read-only or login calls first (resolve the
   post on the brand's own instance, open a session); a failure there means
   nothing was posted, so the row becomes `failed`.
3. Exactly one POST of the reply, never retried by this module:
   - 2xx: `sent`, with the platform's id and URL; the queue item gets its
     first-reply time and moves to pending.
   - 4xx (the platform refused it) or a connection that never opened: `failed`,
     with the error; a new attempt is allowed.
   - timeout, dropped connection, 5xx or anything else: `unknown` ("unknown,
     verify"): it may or may not have been posted. A human checks the platform
     and calls `verify_reply`; nothing retries it automatically.

Platforms (brand account per platform in `[replies.<platform>]`, secrets by
variable name; see earful.toml):
- Mastodon: `GET /api/v2/search?resolve=true` on the brand's instance to find
  the post's local id, then `POST /api/v1/statuses` with `in_reply_to_id` and
  an `Idempotency-Key` header (the server drops a duplicate for an hour).
- Bluesky: `createSession` (app password), then `com.atproto.repo.createRecord`
  with root and parent strong refs and a record key derived from the
  idempotency key (a duplicate create is refused by the PDS).
- X: `POST /2/tweets` with `reply.in_reply_to_tweet_id`, only when the post
  @mentions the brand's account (X's rule since 2026-02); otherwise manual.
- Lemmy: `GET /api/v3/resolve_object` then `POST /api/v3/comment`.
- Reddit: password-grant token for an approved app, then `POST /api/comment`.
- Hacker News and RSS have no reply API: reply manually, then
  `record_manual_reply` with the reply's URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import ReplyAccount, Settings
from earful.models import Mention, utcnow
from earful.queue import mark_replied, write_audit
from earful.schema import mentions, replies

if TYPE_CHECKING:
    from earful.store import Store

ACTIVE: tuple[str, ...] = ("intent", "unknown", "sent", "manual")
MANUAL_ONLY: dict[str, str] = {
    "hackernews": "Hacker News has no reply API",
    "rss": "feeds have no reply API",
    "demo": "demo posts are not real",
}
DEFAULT_BASE: dict[str, str] = {
    "bluesky": "https://bsky.social",
    "x": "https://api.x.com",
    "reddit": "https://oauth.reddit.com",
}
X_RULE = "manual reply: X allows API replies only when the author mentioned you"
USER_AGENT = "earful/0.1 (reply sender)"


class ReplyRefused(Exception):
    """Not sent, and nothing was stored: already replied, in flight, or not possible."""


class NotSent(Exception):
    """The platform certainly did not post the reply."""


class Unknown(Exception):
    """The reply may or may not have been posted."""


@dataclass(frozen=True, slots=True)
class Posted:
    platform_id: str | None
    url: str | None
    note: str | None = None


# -- keys and checks ------------------------------------------------------------
def normalize(text: str) -> str:
    return " ".join(text.split())


def idempotency_key(mention_id: int, text: str, attempt: int = 0) -> str:
    """64 hex chars from mention id + normalised text + attempt number."""
    raw = f"{mention_id}\n{normalize(text)}\n{attempt}".encode()
    return hashlib.sha256(raw).hexdigest()


def _field(m: Mention | Mapping[str, Any], name: str) -> Any:
    return m.get(name) if isinstance(m, Mapping) else getattr(m, name, None)


def _x_handle(settings: Settings, acct: ReplyAccount) -> str | None:
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


def can_send(settings: Settings, mention: Mention | Mapping[str, Any]) -> tuple[bool, str]:
    """(True, "ready") or (False, what the person should do instead)."""
    platform = str(_field(mention, "platform") or "")
    url = _field(mention, "url") or ""
    link = f": open {url}" if url else ""
    if platform in MANUAL_ONLY:
        return False, f"reply manually ({MANUAL_ONLY[platform]}){link}"
    if platform not in SENDERS:
        return False, f"reply manually (no reply support for {platform}){link}"
    acct: ReplyAccount | None = getattr(settings.replies, platform, None)
    if acct is None:
        return False, f"reply manually, or add [replies.{platform}] to {settings.path}{link}"
    if platform in ("mastodon", "lemmy") and not acct.base_url:
        return (
            False,
            f"{settings.path}: replies.{platform}.base_url: the brand's own instance is needed",
        )
    needed = _needed_secrets(platform, acct)
    missing = [v or "(not named)" for v in needed if not v or not settings.secret(v)]
    if missing:
        return False, f"credentials missing for {platform} replies: set {', '.join(missing)}"
    if platform == "x":
        handle = _x_handle(settings, acct)
        if not handle or not _mentions_handle(
            str(_field(mention, "text") or ""), _field(mention, "raw"), handle
        ):
            return False, f"{X_RULE}{link}"
    if platform == "bluesky" and "|" not in str(_field(mention, "native_id") or ""):
        return False, f"reply manually (the post's content id is unknown){link}"
    return True, "ready"


# -- the send ------------------------------------------------------------------
def _mention_row(conn: Connection, mention_id: int) -> dict[str, Any] | None:
    row = conn.execute(sa.select(mentions).where(mentions.c.id == mention_id)).first()
    return None if row is None else dict(row._mapping)


def _active(conn: Connection, mention_id: int) -> Any:
    return conn.execute(
        sa.select(replies.c.id, replies.c.status, replies.c.actor, replies.c.created_at)
        .where(replies.c.mention_id == mention_id, replies.c.status.in_(ACTIVE))
        .limit(1)
    ).first()


def _lock_mention(conn: Connection, mention_id: int) -> None:
    # SQLite: the write transaction is BEGIN IMMEDIATE already; PostgreSQL: row lock.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(mentions.c.id).where(mentions.c.id == mention_id).with_for_update())


def _reply_dict(conn: Connection, reply_id: int) -> dict[str, Any]:
    return dict(conn.execute(sa.select(replies).where(replies.c.id == reply_id)).one()._mapping)


def send_reply(
    store: Store,
    settings: Settings,
    mention_id: int,
    text: str,
    *,
    actor: str,
    client: httpx.Client,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send `text` as a reply to a mention, at most once; returns the stored reply row.

    Raises ReplyRefused (nothing stored, nothing sent) when the platform cannot
    take it or the mention already has a reply in flight, unknown or sent.
    """
    now = now or utcnow()
    body = text.strip()
    if not body:
        raise ReplyRefused("the reply is empty")
    with store.read() as conn:
        m = _mention_row(conn, mention_id)
    if m is None:
        raise ReplyRefused(f"no mention {mention_id}")
    ok, why = can_send(settings, m)
    if not ok:
        raise ReplyRefused(why)
    with store.write() as conn:
        _lock_mention(conn, mention_id)
        act = _active(conn, mention_id)
        if act is not None:
            raise ReplyRefused(
                f"already {act.status} (by {act.actor}); "
                + (
                    "verify on the platform first"
                    if act.status == "unknown"
                    else "not sending again"
                )
            )
        failed = conn.scalar(
            sa.select(sa.func.count())
            .select_from(replies)
            .where(replies.c.mention_id == mention_id, replies.c.status == "failed")
        )
        key = idempotency_key(mention_id, body, int(failed or 0))
        reply_id = conn.execute(
            replies.insert()
            .values(
                mention_id=mention_id,
                idempotency_key=key,
                text=body,
                status="intent",
                actor=actor,
                created_at=now,
                updated_at=now,
            )
            .returning(replies.c.id)
        ).scalar_one()
        write_audit(
            conn,
            actor=actor,
            mention_id=mention_id,
            action="reply_intent",
            after={"reply_id": reply_id, "text": body, "key": key},
            now=now,
        )
    # The intent is committed: from here on a crash leaves "intent", which blocks resending.
    acct: ReplyAccount = getattr(settings.replies, m["platform"])
    status, posted, error = "unknown", None, None
    try:
        posted = SENDERS[m["platform"]](
            _Ctx(settings, acct, m, body, key, client, now, _creation_time(now))
        )
        status, error = "sent", posted.note
    except NotSent as exc:
        status, error = "failed", str(exc)
    except Unknown as exc:
        status, error = "unknown", str(exc)
    except Exception as exc:  # a bug after the POST must not claim either outcome
        status, error = "unknown", f"unexpected error: {exc!r}"
    return _finish(store, reply_id, mention_id, status, posted, error, actor=actor, now=now)


def _creation_time(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _finish(
    store: Store,
    reply_id: int,
    mention_id: int,
    status: str,
    posted: Posted | None,
    error: str | None,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    with store.write() as conn:
        values: dict[str, Any] = {"status": status, "updated_at": now, "error": error}
        if posted is not None:
            values.update(platform_reply_id=posted.platform_id, reply_url=posted.url)
        conn.execute(
            replies.update()
            .where(replies.c.id == reply_id, replies.c.status == "intent")
            .values(values)
        )
        write_audit(
            conn,
            actor=actor,
            mention_id=mention_id,
            action=f"reply_{status}",
            before={"reply_id": reply_id, "status": "intent"},
            after={k: v for k, v in values.items() if k != "updated_at"},
            now=now,
        )
        if status == "sent":
            mark_replied(conn, mention_id, actor=actor, now=now)
        return _reply_dict(conn, reply_id)


def verify_reply(
    store: Store,
    reply_id: int,
    *,
    sent: bool,
    actor: str,
    url: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A person checked an `unknown` (or stuck `intent`) reply on the platform: it was posted or not."""
    now = now or utcnow()
    with store.write() as conn:
        row = _reply_dict(conn, reply_id)
        if row["status"] not in ("unknown", "intent"):
            raise ReplyRefused(f"reply {reply_id} is {row['status']}, nothing to verify")
        values: dict[str, Any] = {"status": "sent" if sent else "failed", "updated_at": now}
        if sent and url:
            values["reply_url"] = url
        if not sent:
            values["error"] = f"verified as not posted by {actor}"
        conn.execute(replies.update().where(replies.c.id == reply_id).values(values))
        write_audit(
            conn,
            actor=actor,
            mention_id=row["mention_id"],
            action="reply_verified",
            before={"reply_id": reply_id, "status": row["status"]},
            after={"status": values["status"], "reply_url": values.get("reply_url")},
            now=now,
        )
        if sent:
            mark_replied(conn, row["mention_id"], actor=actor, now=now)
        return _reply_dict(conn, reply_id)


def record_manual_reply(
    store: Store,
    mention_id: int,
    url: str,
    *,
    actor: str,
    text: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Someone replied on the platform by hand: store it (status `manual`) and stop the SLA clock."""
    now = now or utcnow()
    url = url.strip()
    if not url:
        raise ValueError("give the URL of the reply you posted")
    key = hashlib.sha256(f"manual\n{mention_id}\n{url}".encode()).hexdigest()
    with store.write() as conn:
        _lock_mention(conn, mention_id)
        if _mention_row(conn, mention_id) is None:
            raise ReplyRefused(f"no mention {mention_id}")
        same = conn.execute(sa.select(replies.c.id).where(replies.c.idempotency_key == key)).first()
        if same is not None:  # the same manual reply recorded twice: one row
            return _reply_dict(conn, same.id)
        reply_id = conn.execute(
            replies.insert()
            .values(
                mention_id=mention_id,
                idempotency_key=key,
                text=text.strip(),
                status="manual",
                reply_url=url,
                actor=actor,
                created_at=now,
                updated_at=now,
            )
            .returning(replies.c.id)
        ).scalar_one()
        write_audit(
            conn,
            actor=actor,
            mention_id=mention_id,
            action="reply_manual",
            after={"reply_id": reply_id, "reply_url": url},
            now=now,
        )
        mark_replied(conn, mention_id, actor=actor, now=now)
        return _reply_dict(conn, reply_id)


def replies_for(store: Store, mention_id: int) -> list[dict[str, Any]]:
    """Replies to one mention, oldest first (status: intent, sent, unknown, failed, manual)."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(replies).where(replies.c.mention_id == mention_id).order_by(replies.c.id)
        )
        return [dict(r._mapping) for r in rows]


# -- HTTP, classified ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Ctx:
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
def _mastodon(c: _Ctx) -> Posted:
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


def _bluesky(c: _Ctx) -> Posted:
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


def _x(c: _Ctx) -> Posted:
    base = c.base("x")
    target = str(c.mention.get("native_id") or c.mention["external_id"])
    data = _post_once(
        c.client,
        f"{base}/2/tweets",
        json={"text": c.text, "reply": {"in_reply_to_tweet_id": target}},
        headers={"Authorization": f"Bearer {c.secret(c.acct.token_env)}"},
    )
    tid = _g(data, "data", "id")
    handle = _x_handle(c.settings, c.acct) or "i"
    return _posted(tid, f"https://x.com/{handle}/status/{tid}" if tid else None)


def _lemmy(c: _Ctx) -> Posted:
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


def _reddit(c: _Ctx) -> Posted:
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


SENDERS: dict[str, Callable[[_Ctx], Posted]] = {
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "x": _x,
    "lemmy": _lemmy,
    "reddit": _reddit,
}

__all__ = [
    "ReplyRefused",
    "can_send",
    "send_reply",
    "verify_reply",
    "record_manual_reply",
    "replies_for",
    "idempotency_key",
    "tid_for",
    "SENDERS",
]

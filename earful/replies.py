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

The per-platform HTTP senders live in earful.reply_senders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import ReplyAccount, Settings
from earful.models import Mention, utcnow
from earful.queue import mark_replied, write_audit
from earful.reply_senders import (
    SENDERS,
    X_RULE,
    NotSent,
    Posted,
    SendContext,
    Unknown,
    creation_time,
    field,
    not_ready,
    tid_for,
)
from earful.schema import mentions, replied_purged, replies

if TYPE_CHECKING:
    from earful.store import Store

ACTIVE: tuple[str, ...] = ("intent", "unknown", "sent", "manual")
MANUAL_ONLY: dict[str, str] = {
    "hackernews": "Hacker News has no reply API",
    "rss": "feeds have no reply API",
    "demo": "demo posts are not real",
}


class ReplyRefused(Exception):
    """Not sent, and nothing was stored: already replied, in flight, or not possible."""


# -- keys and checks ------------------------------------------------------------
def normalize(text: str) -> str:
    return " ".join(text.split())


def idempotency_key(mention_id: int, text: str, attempt: int = 0) -> str:
    """64 hex chars from mention id + normalised text + attempt number."""
    raw = f"{mention_id}\n{normalize(text)}\n{attempt}".encode()
    return hashlib.sha256(raw).hexdigest()


def can_send(settings: Settings, mention: Mention | Mapping[str, Any]) -> tuple[bool, str]:
    """(True, "ready") or (False, what the person should do instead)."""
    platform = str(field(mention, "platform") or "")
    url = field(mention, "url") or ""
    link = f": open {url}" if url else ""
    if platform in MANUAL_ONLY:
        return False, f"reply manually ({MANUAL_ONLY[platform]}){link}"
    if platform not in SENDERS:
        return False, f"reply manually (no reply support for {platform}){link}"
    acct: ReplyAccount | None = getattr(settings.replies, platform, None)
    if acct is None:
        return False, f"reply manually, or add [replies.{platform}] to {settings.path}{link}"
    why = not_ready(settings, platform, acct, mention, link)
    if why is not None:
        return False, why
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


def _replied_before_purge(conn: Connection, m: dict[str, Any]) -> bool:
    """The post was purged with our reply on it, and has been stored again since (earful.purge)."""
    rp = replied_purged.c
    return bool(
        conn.scalar(
            sa.select(rp.replies).where(
                rp.platform == m["platform"], rp.external_id == m["external_id"]
            )
        )
    )


def _lock_mention(conn: Connection, mention_id: int) -> None:
    # SQLite: the write transaction is BEGIN IMMEDIATE already; PostgreSQL: row lock.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(mentions.c.id).where(mentions.c.id == mention_id).with_for_update())


def _reply_dict(conn: Connection, reply_id: int) -> dict[str, Any]:
    return dict(conn.execute(sa.select(replies).where(replies.c.id == reply_id)).one()._mapping)


def _insert_reply(
    conn: Connection,
    mention_id: int,
    key: str,
    text: str,
    status: str,
    *,
    actor: str,
    now: datetime,
    audit: dict[str, Any],
    **extra: Any,
) -> int:
    """Insert a reply row and its `reply_<status>` audit entry; returns the new id."""
    reply_id: int = conn.execute(
        replies.insert()
        .values(
            mention_id=mention_id,
            idempotency_key=key,
            text=text,
            status=status,
            **extra,
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
        action=f"reply_{status}",
        after={"reply_id": reply_id, **audit},
        now=now,
    )
    return reply_id


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
        if _replied_before_purge(conn, m):
            raise ReplyRefused(
                "we replied to this post before it was deleted at the source and purged; "
                "it is back now: check the thread on the platform and reply by hand if needed"
            )
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
        reply_id = _insert_reply(
            conn,
            mention_id,
            key,
            body,
            "intent",
            actor=actor,
            now=now,
            audit={"text": body, "key": key},
        )
    # The intent is committed: from here on a crash leaves "intent", which blocks resending.
    acct: ReplyAccount = getattr(settings.replies, m["platform"])
    status, posted, error = "unknown", None, None
    try:
        posted = SENDERS[m["platform"]](
            SendContext(settings, acct, m, body, key, client, now, creation_time(now))
        )
        status, error = "sent", posted.note
    except NotSent as exc:
        status, error = "failed", str(exc)
    except Unknown as exc:
        status, error = "unknown", str(exc)
    except Exception as exc:  # a bug after the POST must not claim either outcome
        status, error = "unknown", f"unexpected error: {exc!r}"
    return _finish(store, reply_id, mention_id, status, posted, error, actor=actor, now=now)


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
        reply_id = _insert_reply(
            conn,
            mention_id,
            key,
            text.strip(),
            "manual",
            actor=actor,
            now=now,
            audit={"reply_url": url},
            reply_url=url,
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


# tid_for, SENDERS and X_RULE are re-exported from earful.reply_senders.
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
    "X_RULE",
]

"""Simulated support work on the demo stream, so a seeded database looks lived in.

After `seed_demo` stores its history every queue item would still be open and
breached. `simulate_support` plays a support team through the demo items that
are older than a few hours: assignments, internal notes, manual replies with a
plausible reply URL, pending, snoozes (woken by the system), resolutions and
dismissals, with realistic delays (minutes for urgent items, hours for normal
ones, slower at night, a few late enough to breach the SLA). The newest items
stay untouched so the queue has live work with running SLA clocks.

Each item's plan is a pure function of `(seed, external_id)` and the item's
stored fields, and every step of it is written exactly as the queue API writes
it (`queue_items` columns, a `replies` row with status `manual`, `queue_notes`,
one `audit_log` row per action with before/after), only batched: thousands of
items take about a second. Steps later than `now` are left for a later run: an
item whose stored version and last change match its plan continues from there,
anything a person (or the queue itself) changed is never touched again. So
running it twice at the same `now` changes nothing. Only demo mentions
(`mentions.is_demo`) are touched.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from earful.demo import _b32, _base36, entities_of
from earful.models import as_utc, utcnow
from earful.queue import SYSTEM_ACTOR, _audit, _snap
from earful.schema import audit_log, mentions, queue_items, queue_notes, replies

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from earful.config import Settings
    from earful.store import Store

RECENT = timedelta(hours=3)  # newer items stay open: live work for the demo
FALLBACK_TEAM = ("Maya", "Tomás", "Priya", "Jonah")
BATCH = 1000  # items per write transaction
# First-reply delay: log-normal around this share of the band's SLA target.
REPLY_SHARE = {"urgent": 0.3, "high": 0.3, "normal": 0.2, "low": 0.15}
DEFAULT_TARGET = {
    "urgent": timedelta(hours=1),
    "high": timedelta(hours=4),
    "normal": timedelta(hours=24),
    "low": timedelta(hours=72),
}
SIGMA = 0.9
QUIET_HOURS = range(0, 6)  # UTC: the team is thin overnight
NIGHT_WAIT = {"urgent": 0.0, "high": 0.35, "normal": 0.8, "low": 0.9}  # waits for the morning

# -- what the team writes --------------------------------------------------------
REPLY_TEXTS: dict[str, tuple[str, ...]] = {
    "outage": (
        "Sorry about this, {to}. We're on it and post updates at {status}",
        "{to} thanks for flagging. Engineers are working on it; follow {status} for updates.",
    ),
    "billing": (
        "Hi {to}, sorry for the trouble with your bill. DM us your account email and we'll "
        "sort the charge out today.",
        "{to} that shouldn't happen. Send us a DM with the invoice number and we'll refund it.",
    ),
    "delay": (
        "So sorry your order is late, {to}. DM us the order number and we'll chase it.",
        "{to} sorry for the wait! Send us your order number by DM and we'll check with the carrier.",
    ),
    "lost": (
        "That's not okay, {to}. DM us the order number and we'll ship a replacement.",
        "{to} sorry! Send us a DM with your order number and we'll sort it out today.",
    ),
    "broken": (
        "Thanks for the report, {to}. Our team is looking into it. Could you DM us your app version?",
        "{to} sorry about that! A fix is in progress; a workaround is in our help center: {help}",
    ),
    "support": (
        "Sorry for the wait, {to}. I've picked up your ticket and will answer by email shortly.",
        "{to} apologies for the slow answer. DM us your ticket number and I'll take it from here.",
    ),
    "question": (
        "Hi {to}! You'll find that under Settings. Happy to walk you through it by DM.",
        "{to} good question! Here's how: {help}",
        "Hi {to}, yes, that works. Details in our help center: {help}",
    ),
    "other": (
        "Thanks for reaching out, {to}. DM us the details and we'll help.",
        "{to} sorry to hear that. Send us a DM and we'll take a look.",
    ),
    "competitor": (
        "Sorry to hear that, {to}. If you're looking at alternatives, we're happy to help you "
        "switch. DM us!",
    ),
}
NOTES: dict[str, tuple[str, ...]] = {
    "outage": (
        "Linked to the open status incident.",
        "Part of the outage, replied with status link.",
    ),
    "billing": (
        "Duplicate charge confirmed in billing, refund issued.",
        "Asked for invoice number.",
    ),
    "delay": ("Carrier delay, customer gets a shipping credit.", "Chased the warehouse."),
    "lost": ("Replacement shipped, tracking sent by DM.", "Opened a claim with the carrier."),
    "broken": ("Known bug, linked to the engineering ticket.", "Escalated to engineering."),
    "support": (
        "Found the old ticket, merged into this one.",
        "Customer waited too long, goodwill credit.",
    ),
    "question": ("Sent the help center link.", "Answered by DM."),
    "other": ("Followed up by DM.",),
    "competitor": ("Competitor customer, reached out with the migration offer.",),
    "dismiss": ("Not ours: about a competitor.", "Community already answered it.", "Duplicate."),
}
COMPLAINT_TOPICS = ("outage", "billing", "delay", "lost", "broken", "support")


@dataclass(slots=True)
class Step:
    """One queue action at one time; `note` and `reply` ride along with it."""

    at: datetime
    actor: str
    action: str  # assign | status | wake | replied
    changes: dict[str, Any]
    note: tuple[datetime, str] | None = None
    reply: tuple[str, str] | None = None  # (url, text)


@dataclass(slots=True)
class SupportStats:
    """What one run did."""

    items: int = 0  # items that got at least one step in this run
    steps: int = 0
    replies: int = 0
    notes: int = 0
    backdated: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


# -- the plan of one item ------------------------------------------------------------
def _sec(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def _team(settings: Settings) -> tuple[str, ...]:
    names = tuple(n.strip() for n in settings.dashboard.team if n.strip())
    return names or FALLBACK_TEAM


def _lognormal(rng: random.Random, median: timedelta, sigma: float = SIGMA) -> timedelta:
    return median * math.exp(rng.gauss(0.0, sigma))


def _office(rng: random.Random, t: datetime, band: str) -> datetime:
    """Non-urgent work that falls in the quiet hours mostly waits for the morning shift."""
    if t.hour in QUIET_HOURS and rng.random() < NIGHT_WAIT.get(band, 0.8):
        morning = t.replace(hour=QUIET_HOURS[-1] + 1, minute=0, second=0, microsecond=0)
        return morning + timedelta(minutes=rng.expovariate(1 / 40))
    return t


@dataclass(frozen=True, slots=True)
class _Ctx:
    brand: str
    team: tuple[str, ...]
    weights: tuple[float, ...]
    targets: dict[str, timedelta]
    x_user: str
    masto: tuple[str, str]  # (instance, user)
    bsky: str
    slug: str


def _context(settings: Settings) -> _Ctx:
    team = _team(settings)
    ent = entities_of(settings)[0]
    user = ent.handle.lstrip("@").split("@")[0] or ent.slug
    masto, bsky = ("mastodon.social", user), f"{user}.bsky.social"
    for h in settings.brand.handles:
        h = h.strip().lstrip("@")
        if "@" in h:
            u, _, host = h.partition("@")
            masto = (host, u)
        elif h.endswith(".bsky.social") or (h.count(".") >= 2 and "/" not in h):
            bsky = h
        elif h and "." not in h:
            user = h
    targets = {b: getattr(settings.sla, b, DEFAULT_TARGET[b]) for b in DEFAULT_TARGET}
    return _Ctx(
        brand=settings.brand.name,
        team=team,
        weights=tuple(1.0 / (i + 1) ** 0.5 for i in range(len(team))),
        targets=targets,
        x_user=user,
        masto=masto,
        bsky=bsky,
        slug=ent.slug,
    )


def _topic(item: dict[str, Any], competitor: bool) -> str:
    if competitor:
        return "competitor"
    raw = item.get("raw") or {}
    topic = raw.get("topic") if isinstance(raw, dict) else None
    if topic in COMPLAINT_TOPICS:
        return str(topic)
    return "question" if item.get("intent") == "question" else "other"


def reply_url(c: _Ctx, item: dict[str, Any], at: datetime, rng: random.Random) -> str:
    """Where the brand's reply would live, in the shape of the post's platform."""
    platform, url = item["platform"], str(item.get("url") or "")
    ms = int(at.timestamp() * 1000)
    if platform == "x":
        return (
            f"https://x.com/{c.x_user}/status/{((ms - 1288834974657) << 22) | rng.getrandbits(22)}"
        )
    if platform == "mastodon":
        host, user = c.masto
        return f"https://{host}/@{user}/{(ms << 16) | rng.getrandbits(16)}"
    if platform == "bluesky":
        rkey = _b32((int(at.timestamp() * 1_000_000) << 10) | rng.getrandbits(10), 13)
        return f"https://bsky.app/profile/{c.bsky}/post/{rkey}"
    if platform == "reddit" and "/comments/" in url:
        root = url.split("/comment/")[0].rstrip("/")
        return f"{root}/comment/{_base36(rng.randint(36**6, 36**7 - 1))}/"
    if platform == "lemmy" and ("/post/" in url or "/comment/" in url):
        host = url.split("/post/")[0].split("/comment/")[0]
        return f"{host}/comment/{rng.randint(10_000_000, 40_000_000)}"
    if platform == "hackernews":
        hid = 44_000_000 + (ms // 1000 - 1_750_000_000) // 3 + rng.randint(0, 2)
        return f"https://news.ycombinator.com/item?id={hid}"
    return f"{url or f'https://{c.slug}.example'}#reply-{rng.randint(1000, 9999)}"


def plan_item(c: _Ctx, item: dict[str, Any], seed: int) -> list[Step]:
    """The whole support history of one item, oldest step first; a pure function."""
    rng = random.Random(f"earful-demo-support:{seed}:{item['external_id']}")
    band = item["band"] if item["band"] in c.targets else "normal"
    w = as_utc(item["waiting_since"])
    enq = max(w, as_utc(item["fetched_at"] or w))
    competitor = item.get("matched") not in (None, c.brand)
    topic = _topic(item, competitor)
    agent = rng.choices(c.team, c.weights)[0]
    lead = c.team[0]
    author = str(item.get("author") or "").split("@")[0]
    to = f"@{author}" if author else "there"
    u = rng.random()
    if competitor:
        fate = "dismiss" if u < 0.8 else "reply"
    else:
        fate = "dismiss" if u < 0.06 else "snooze" if u < 0.10 else "late" if u < 0.105 else "reply"
    after = enq + timedelta(minutes=1)
    delay = _lognormal(rng, c.targets[band] * REPLY_SHARE[band])
    first = _sec(max(after + timedelta(minutes=2), _office(rng, w + delay, band)))
    late = _sec(w + timedelta(hours=rng.uniform(30, 120)))  # forgotten, then found
    steps: list[Step] = []

    def status(at: datetime, actor: str, new: str, until: datetime | None = None) -> Step:
        ch: dict[str, Any] = {"status": new, "snoozed_until": until}
        if new in ("resolved", "dismissed"):
            ch["resolved_at"] = at
        return Step(at, actor, "status", ch)

    if fate == "dismiss":
        who = agent if rng.random() < 0.7 else lead
        at = _sec(max(after, w + (first - w) * rng.uniform(0.3, 1.0)))
        step = status(at, who, "dismissed")
        if rng.random() < 0.3:
            step.note = (at - timedelta(seconds=rng.randint(5, 60)), rng.choice(NOTES["dismiss"]))
        return [step]
    t_assign = _sec(max(after, enq + (first - enq) * rng.uniform(0.1, 0.6)))
    by = agent if rng.random() < 0.8 else lead
    steps.append(Step(t_assign, by, "assign", {"assignee": agent}))
    t = t_assign
    if fate == "snooze":
        t = _sec(t_assign + timedelta(minutes=rng.uniform(2, 30)))
        until = _sec(t + timedelta(hours=rng.choice((2, 4, 8, 12, 24, 36))))
        steps.append(status(t, agent, "snoozed", until))
        steps.append(Step(until, SYSTEM_ACTOR, "wake", {"status": "open", "snoozed_until": None}))
        first = _sec(until + timedelta(minutes=rng.uniform(5, 90)))
    elif fate == "late":
        first = max(first, late)
    first = max(first, t + timedelta(minutes=1))
    url = reply_url(c, item, first, rng)
    texts = REPLY_TEXTS[topic]
    text = rng.choice(texts).format(
        to=to,
        status=f"https://status.{c.slug}.example",
        help=f"https://help.{c.slug}.example/{rng.randint(100, 999)}",
    )
    reply = Step(
        first,
        agent,
        "replied",
        {"status": "pending", "snoozed_until": None, "first_reply_at": first},
        reply=(url, text),
    )
    if rng.random() < 0.12:
        reply.note = (_sec(t + (first - t) * rng.uniform(0.2, 0.9)), rng.choice(NOTES[topic]))
    steps.append(reply)
    close = (
        timedelta(minutes=rng.uniform(1, 10))
        if rng.random() < 0.2
        else min(_lognormal(rng, timedelta(hours=3), 1.2), timedelta(days=4))
    )
    resolved = _sec(max(first + timedelta(minutes=1), _office(rng, first + close, band)))
    steps.append(status(resolved, agent, "resolved"))
    return steps


def resume_at(item: dict[str, Any], plan: Sequence[Step]) -> int | None:
    """How many steps of `plan` are already stored, or None when someone else changed it."""
    k = int(item["version"]) - 1
    if k == 0:
        ok = item["updated_by"] == SYSTEM_ACTOR and item["status"] == "open"
        return (
            0
            if ok and item.get("first_reply_at") is None and item.get("assignee") is None
            else None
        )
    if not 0 < k <= len(plan):
        return None
    last = plan[k - 1]
    updated = item.get("updated_at")
    if updated is None or item["updated_by"] != last.actor or as_utc(updated) != last.at:
        return None
    return k


# -- applying plans in batches -------------------------------------------------------
_COLS = (
    queue_items,
    mentions.c.external_id,
    mentions.c.platform,
    mentions.c.url,
    mentions.c.author,
    mentions.c.matched,
    mentions.c.intent,
    mentions.c.raw,
    mentions.c.fetched_at,
)


def _candidates(conn: Connection) -> list[dict[str, Any]]:
    q = queue_items.c
    rows = conn.execute(
        sa.select(*_COLS)
        .join(mentions, mentions.c.id == q.mention_id)
        .where(mentions.c.is_demo.is_(True), q.status.in_(("open", "pending", "snoozed")))
        .order_by(q.mention_id)
    )
    return [dict(r._mapping) for r in rows]


def _backdate_enqueue(conn: Connection) -> int:
    """Untouched demo items say they were queued when their post was fetched.

    `seed_demo` stores 30 days of history in one go, so the queue stamps every
    item (and its `enqueue` audit row) with the seed time; the history it stands
    for was fetched, and queued, minutes after each post. Two set-based UPDATEs.
    """
    q, m = queue_items.c, mentions.c
    stale = (
        sa.select(q.mention_id)
        .join(mentions, m.id == q.mention_id)
        .where(m.is_demo.is_(True), q.version == 1, q.created_at > m.fetched_at)
    )
    conn.execute(
        audit_log.update()
        .where(
            audit_log.c.mention_id.in_(stale),
            audit_log.c.action == "enqueue",
            audit_log.c.actor == SYSTEM_ACTOR,
        )
        .values(at=sa.select(m.fetched_at).where(m.id == audit_log.c.mention_id).scalar_subquery())
    )
    fetched = sa.select(m.fetched_at).where(m.id == q.mention_id).scalar_subquery()
    res = conn.execute(
        queue_items.update()
        .where(q.mention_id.in_(stale.scalar_subquery()))
        .values(created_at=fetched, updated_at=fetched)
    )
    return int(res.rowcount or 0)


class _Batch:
    """Rows to write for a batch of items, collected then executed together."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.audits: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        # audit rows waiting for their reply id: (index in audits, idempotency key)
        self.pending_ids: list[tuple[int, str]] = []

    def apply(self, item: dict[str, Any], steps: Sequence[Step]) -> None:
        mid = item["mention_id"]
        state = dict(item)
        for s in steps:
            if s.note is not None:
                at, text = s.note
                self.notes.append({"mention_id": mid, "author": s.actor, "at": at, "text": text})
                self.audits.append(_audit(at, s.actor, mid, "note", None, {"text": text}))
            if s.reply is not None:
                url, text = s.reply
                key = hashlib.sha256(f"manual\n{mid}\n{url}".encode()).hexdigest()
                self.replies.append(
                    {
                        "mention_id": mid,
                        "idempotency_key": key,
                        "text": text,
                        "status": "manual",
                        "reply_url": url,
                        "actor": s.actor,
                        "created_at": s.at,
                        "updated_at": s.at,
                    }
                )
                self.pending_ids.append((len(self.audits), key))
                self.audits.append(
                    _audit(s.at, s.actor, mid, "reply_manual", None, {"reply_url": url})
                )
            values = {
                **s.changes,
                "version": state["version"] + 1,
                "updated_by": s.actor,
                "updated_at": s.at,
            }
            self.audits.append(
                _audit(s.at, s.actor, mid, s.action, _snap(state), _snap({**s.changes, **values}))
            )
            state.update(values)
        self.updates.append(
            {
                "b_mid": mid,
                "b_version": item["version"],
                **{k: state[k] for k in _WRITTEN},
            }
        )

    def write(self, conn: Connection) -> int:
        """Execute; returns how many item updates matched (a concurrent change drops one)."""
        q = queue_items.c
        if not self.updates:
            return 0
        if self.replies:
            ids = {
                r.idempotency_key: r.id
                for r in conn.execute(
                    replies.insert().returning(replies.c.id, replies.c.idempotency_key),
                    self.replies,
                )
            }
            for i, key in self.pending_ids:
                self.audits[i]["after"] = {"reply_id": ids[key], **self.audits[i]["after"]}
        res = conn.execute(
            queue_items.update()
            .where(q.mention_id == sa.bindparam("b_mid"), q.version == sa.bindparam("b_version"))
            .values({k: sa.bindparam(k) for k in _WRITTEN}),
            self.updates,
        )
        if self.notes:
            conn.execute(queue_notes.insert(), self.notes)
        conn.execute(audit_log.insert(), self.audits)
        return int(res.rowcount or 0)


_WRITTEN = (
    "status",
    "assignee",
    "first_reply_at",
    "resolved_at",
    "snoozed_until",
    "version",
    "updated_by",
    "updated_at",
)


def simulate_support(
    store: Store,
    settings: Settings,
    *,
    seed: int = 7,
    now: datetime | None = None,
    recent: timedelta = RECENT,
    progress: Callable[[int, int], None] | None = None,
) -> SupportStats:
    """Play the support team through demo queue items waiting since before `now - recent`.

    Deterministic and idempotent (see the module docstring). `progress(done, total)`
    counts items.
    """
    now = as_utc(now or utcnow())
    cutoff = now - recent
    c = _context(settings)
    stats = SupportStats()
    with store.write() as conn:
        stats.backdated = _backdate_enqueue(conn)
    with store.read() as conn:
        items = _candidates(conn)
    total = max(1, len(items))
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        batch = _Batch()
        for item in chunk:
            if as_utc(item["waiting_since"]) >= cutoff:
                continue
            plan = plan_item(c, item, seed)
            k = resume_at(item, plan)
            if k is None:
                continue
            todo = [s for s in plan[k:] if s.at <= now]
            if not todo:
                continue
            batch.apply(item, todo)
            stats.items += 1
            stats.steps += len(todo)
            stats.replies += sum(1 for s in todo if s.reply)
            stats.notes += sum(1 for s in todo if s.note)
        with store.write() as conn:
            batch.write(conn)
        if progress is not None:
            progress(min(total, start + len(chunk)), total)
    with store.read() as conn:
        q = queue_items.c
        rows = conn.execute(
            sa.select(q.status, sa.func.count())
            .join(mentions, mentions.c.id == q.mention_id)
            .where(mentions.c.is_demo.is_(True))
            .group_by(q.status)
        )
        stats.by_status = {str(s): int(n) for s, n in rows}
    return stats


__all__ = ["RECENT", "Step", "SupportStats", "plan_item", "resume_at", "simulate_support"]

"""The support history the demo team plays on one queue item, planned as a pure function.

Part of `earful.demo_support`. `plan_item` turns an item's stored fields and
`(seed, external_id)` into its steps, oldest first (assign, snooze and the
system's wake, a reply with its URL in the platform's shape and a text from
`REPLY_TEXTS`, internal notes, resolve or dismiss), with delays drawn around
the band's SLA target and slowed in the quiet hours; `resume_at` says how many
of those steps an item already has stored, or that someone else changed it.

The cut is here because the plan never touches the database: it is built from
the settings (`_context`) and one item's row, which `earful.demo_support` reads
and passes in, then writes in batches as the queue API would.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from earful.demo_cast import entities_of
from earful.demo_ids import _b32, _base36
from earful.models import as_utc
from earful.queue import SYSTEM_ACTOR

if TYPE_CHECKING:
    from earful.config import Settings

FALLBACK_TEAM = ("Maya", "Tomás", "Priya", "Jonah")
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

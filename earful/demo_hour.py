"""One entity's hour bucket of demo posts: how many, of which kind, on which platform, with threads.

Part of `earful.demo`. `generate_hour` is the stream's unit: an RNG seeded
with ``(seed, entity, hour)`` draws the hour's volume (the brand's rate,
a competitor's share, the daily and weekly rhythm, the outage spike's
profile), then each post's kind, platform, time, author, text and ids, and
for one root in ten a reply thread; the posts' `external_id` is
``demo:<seed>:<entity>:<hour>:<index>``.

The cut is here because an hour bucket is a pure function of its arguments
and everything above it (`earful.demo`: ranges of hours merged across
entities, the seeded history and its cursors) only calls it: the volume and
mix constants, the draws in their fixed order and the per-hour id counter
all live here, with the text (`earful.demo_text`), the ids
(`earful.demo_ids`) and the authors (`earful.demo_cast`) passed the same RNG.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from earful.demo_cast import SOCIAL, Author, Entity, _authors
from earful.demo_ids import _ids, _thread_url, _url_slug
from earful.demo_templates import OUTLETS, REPLIES
from earful.demo_text import _decorate, _slots, _text
from earful.models import Mention, as_utc

HOUR = timedelta(hours=1)
BRAND_PER_HOUR = 21.0  # about 500 brand posts a day before rhythm
COMPETITOR_SHARE = (0.45, 0.28, 0.18, 0.12, 0.08)
SPIKE_PROFILE = (4.0, 6.5, 5.5, 4.0)  # volume multipliers for the outage hours
# UTC hour-of-day factor: quiet at night (EU and US both asleep), busy 13-18 UTC.
DIURNAL = (
    0.45, 0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.6, 0.8, 0.95, 1.05, 1.1,
    1.2, 1.35, 1.45, 1.5, 1.5, 1.4, 1.3, 1.2, 1.05, 0.9, 0.75, 0.6,
)  # fmt: skip
WEEKDAY = (1.05, 1.1, 1.1, 1.05, 1.0, 0.6, 0.55)
PLATFORMS = ("x", "mastodon", "bluesky", "reddit", "hackernews", "lemmy", "rss")
PLATFORM_WEIGHTS = (0.27, 0.2, 0.2, 0.14, 0.07, 0.06, 0.06)
THREADED = ("x", "mastodon", "bluesky", "reddit", "hackernews", "lemmy")

KIND_WEIGHTS = (
    ("complaint", 0.36),
    ("question", 0.15),
    ("praise", 0.17),
    ("other", 0.16),
    ("sarcasm", 0.06),
    ("foreign", 0.10),
)
SPIKE_WEIGHTS = (
    ("outage", 0.62),
    ("sarcasm", 0.1),
    ("question", 0.13),
    ("other", 0.05),
    ("foreign", 0.1),
)
# A competitor's tilt keeps share of voice and sentiment comparisons interesting.
COMPETITOR_TILT: tuple[dict[str, float], ...] = (
    {"praise": 1.5, "complaint": 0.7},
    {"praise": 0.7, "complaint": 1.4},
    {},
)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _hour_floor(dt: datetime) -> datetime:
    return dt.replace(minute=0, second=0, microsecond=0)


def _rate(ent: Entity, hour: datetime, rate: float, spike_at: datetime | None) -> float:
    share = 1.0 if ent.rank == 0 else COMPETITOR_SHARE[min(ent.rank, len(COMPETITOR_SHARE)) - 1]
    lam = BRAND_PER_HOUR * share * rate * DIURNAL[hour.hour] * WEEKDAY[hour.weekday()]
    return lam * _spike_factor(ent, hour, spike_at)


def _spike_factor(ent: Entity, hour: datetime, spike_at: datetime | None) -> float:
    if spike_at is None or ent.rank != 0:
        return 1.0
    i = int((hour - _hour_floor(spike_at)) / HOUR)
    return SPIKE_PROFILE[i] if 0 <= i < len(SPIKE_PROFILE) else 1.0


def _pick(rng: random.Random, weights: Sequence[tuple[str, float]], tilt: dict[str, float]) -> str:
    names = [k for k, _ in weights]
    ws = [w * tilt.get(k, 1.0) for k, w in weights]
    return rng.choices(names, ws)[0]


@lru_cache(maxsize=256)
def _cached_matcher(ent: Entity) -> Callable[[str], bool]:
    """Does a text name this entity (same rules as the pipeline's matcher)?"""
    from earful.matching import Matcher

    m = Matcher(((ent.name, ent.terms or (ent.name,)),))
    return lambda text: m.match(text) is not None


def generate_hour(
    ent: Entity,
    hour: datetime,
    *,
    seed: int = 7,
    rate: float = 1.0,
    spike_at: datetime | None = None,
) -> list[Mention]:
    """All posts of one entity in one hour bucket, ascending; a pure function of its arguments."""
    return _Hour(ent, _hour_floor(as_utc(hour)), seed, spike_at).posts(rate)


class _Hour:
    """One entity's hour bucket: its own RNG, its own id counter."""

    def __init__(self, ent: Entity, hour: datetime, seed: int, spike_at: datetime | None) -> None:
        self.ent, self.hour, self.seed, self.spike_at = ent, hour, seed, spike_at
        self.hkey = int(hour.timestamp()) // 3600
        self.rng = random.Random(f"earful-demo:{seed}:{ent.slug}:{self.hkey}")
        self.spiking = _spike_factor(ent, hour, spike_at) > 1.0
        self.matches = _cached_matcher(ent)
        self.idx = 0

    def posts(self, rate: float) -> list[Mention]:
        rng, ent = self.rng, self.ent
        n = _poisson(rng, _rate(ent, self.hour, rate, self.spike_at))
        tilt = COMPETITOR_TILT[(ent.rank - 1) % len(COMPETITOR_TILT)] if ent.rank else {}
        weights = SPIKE_WEIGHTS if self.spiking else KIND_WEIGHTS
        out: list[Mention] = []
        for _ in range(n):
            kind = _pick(rng, weights, tilt)
            platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
            if kind == "other" and rng.random() < 0.35:
                platform = "rss"
            if platform == "rss":
                kind = "news"
            created = self.hour + timedelta(seconds=rng.uniform(0, 3600))
            root = self.post(kind, platform, created)
            if root is None:
                continue
            out.append(root)
            if platform in THREADED and kind != "foreign" and rng.random() < 0.1:
                out.extend(self.thread(root))
        out = _mark_roots(out)
        out.sort(key=lambda m: (m.created_at, m.external_id))
        return out

    def thread(self, root: Mention) -> list[Mention]:
        """2-5 replies within the hour, to the root or to the previous reply."""
        replies: list[Mention] = []
        parent, t = root, root.created_at
        for _ in range(self.rng.randint(2, 5)):
            t = t + timedelta(seconds=self.rng.uniform(30, 900))
            if t >= self.hour + HOUR:
                break
            reply = self.post("reply", root.platform, t, root=root, parent=parent)
            if reply is None:
                break
            replies.append(_thread_url(reply, root))
            parent = replies[-1] if self.rng.random() < 0.5 else root
        return replies

    def post(
        self,
        kind: str,
        platform: str,
        created: datetime,
        *,
        root: Mention | None = None,
        parent: Mention | None = None,
    ) -> Mention | None:
        rng, ent = self.rng, self.ent
        i = self.idx
        self.idx += 1
        slots = _slots(rng, ent, platform, self.hour)
        lang: str | None = "en"
        topic: str | None
        if parent is not None:
            k = str(parent.raw.get("intent", "other"))
            k = k if k in REPLIES else ("complaint" if k == "sarcasm" else "other")
            text, intent, topic = rng.choice(REPLIES[k]).format(**slots), k, "reply"
        else:
            text, intent, topic = _text(rng, kind, slots)
            lang = topic if kind == "foreign" else "en"
            text = _decorate(rng, ent, kind, platform, text, slots)
        authors, weights = _authors(self.seed, platform)
        author = rng.choices(authors, weights)[0]
        if platform == "rss":
            outlet, domain = rng.choice(OUTLETS)
            author = Author(outlet, None, domain)
        if not self.matches(text):  # unusual terms: make sure the post names its entity
            text = f"{text} ({ent.words[0]})"
            if not self.matches(text):
                return None
        url, native = _ids(rng, platform, author, created, _url_slug(text))
        return Mention(
            platform=platform,
            external_id=f"demo:{self.seed}:{ent.slug}:{self.hkey}:{i}",
            url=url,
            author=author.name,
            text=text,
            created_at=created,
            author_followers=author.followers,
            lang=lang if platform in SOCIAL else None,
            in_reply_to=parent.external_id if parent else None,
            thread_id=root.external_id if root else None,
            native_id=native or None,
            engagement=int(rng.expovariate(1.0) * math.sqrt((author.followers or 200) / 4)),
            raw={
                "demo": True,
                "entity": ent.name,
                "kind": kind,
                "intent": intent,
                "topic": topic,
                "spike": self.spiking,
            },
            source="demo",
            is_demo=True,
        )


def _mark_roots(posts: list[Mention]) -> list[Mention]:
    """A root post with replies carries its own id as thread_id."""
    roots = {m.thread_id for m in posts if m.thread_id}
    return [
        dataclasses.replace(m, thread_id=m.external_id)
        if m.external_id in roots and not m.thread_id
        else m
        for m in posts
    ]

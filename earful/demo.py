"""The demo stream: a realistic, deterministic (seeded) stream of synthetic posts.

Every post is generated per hour bucket and per entity (the brand or a
competitor) from an RNG seeded with ``(seed, entity, hour)``, and its
`external_id` is ``demo:<seed>:<entity>:<hour>:<index>``. So any time range
yields the same posts however it is chunked, and `seed_demo` (30 days of
history) and the live `demo` listener (polling forward) never collide or
double. All texts come from the templates in `earful.demo_templates` (synthetic,
written for this project); posts carry `is_demo=True`, `source="demo"` and the
platform they mimic.

The mix: complaints (delays, outages, billing, lost orders, broken features,
waiting on support), questions, praise, neutral chatter and news, sarcasm,
non-English posts, posts addressed to the brand's handle, hashtags, links,
recurring authors with heavy-tailed follower counts, reply threads, a daily
and weekly rhythm, and (in the seeded history) one outage spike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import math
import random
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from earful.demo_templates import (
    AMOUNTS,
    CITIES,
    CLOSERS,
    COMPLAINTS,
    DAYS,
    DURATIONS,
    FEATURES,
    FIRST,
    FOREIGN,
    FOREIGN_DURATIONS,
    INSTANCES,
    MINUTES,
    MONTHS,
    NEG_EMOJI,
    NEUTRAL,
    NEWS,
    OTHERS,
    OUTAGE,
    OUTLETS,
    POS_EMOJI,
    PRAISE,
    PRODUCTS,
    QUESTIONS,
    REDDIT_FLAIR,
    REPLIES,
    SARC_EMOJI,
    SARCASM,
    SHORT,
    SUBREDDITS,
    WORDS,
)
from earful.models import Mention, as_utc, utcnow

if TYPE_CHECKING:
    from earful.config import Settings
    from earful.store import Store

HOUR = timedelta(hours=1)
FETCH_LAG = timedelta(seconds=90)
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
SOCIAL = ("x", "mastodon", "bluesky")
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

B32 = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    followers: int | None
    home: str  # instance or subreddit


@lru_cache(maxsize=64)
def _authors(seed: int, platform: str) -> tuple[tuple[Author, ...], tuple[float, ...]]:
    """A fixed pool of authors per platform; Zipf weights make some of them regulars."""
    rng = random.Random(f"earful-demo-authors:{seed}:{platform}")
    pool: list[Author] = []
    names: set[str] = set()
    while len(pool) < 400:
        first = rng.choice(FIRST)
        style = rng.random()
        if style < 0.4:
            base = f"{first}_{rng.choice(WORDS)}"
        elif style < 0.7:
            base = f"{first}{rng.randint(1, 99)}"
        else:
            base = f"{first}{rng.choice(WORDS)}{rng.randint(1, 9)}"
        if base in names:
            continue
        names.add(base)
        followers: int | None = None
        if platform in SOCIAL:
            followers = int(rng.lognormvariate(5.0, 1.7))
            if rng.random() < 0.015:  # a few big accounts
                followers = rng.randint(50_000, 2_000_000)
        home = ""
        if platform in INSTANCES:
            home = rng.choice(INSTANCES[platform])
        elif platform == "reddit":
            home = rng.choice(SUBREDDITS)
        if platform == "mastodon" or platform == "lemmy":
            name = f"{base}@{home}"
        elif platform == "bluesky":
            name = f"{base.replace('_', '-')}.bsky.social"
        else:
            name = base
        pool.append(Author(name, followers, home))
    # Zipf: a few regulars post a lot; big accounts post rarely.
    weights = tuple(
        (1.0 / (i + 1) ** 0.9) * (0.05 if (a.followers or 0) >= 50_000 else 1.0)
        for i, a in enumerate(pool)
    )
    return tuple(pool), weights


# -- entities ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entity:
    """One stream: the brand (rank 0) or a competitor (rank 1, 2, ...) and its terms."""

    name: str
    terms: tuple[str, ...]
    rank: int = 0

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "", self.name.lower()) or "brand"

    @property
    def words(self) -> tuple[str, ...]:
        """How people write it: the terms (unquoted) plus the name when a term matches it."""
        out: list[str] = []
        for t in self.terms:
            exact = t.strip().startswith('"')
            t = t.strip().strip('"').strip()
            if t and not t.startswith("@"):
                if t.lower() == self.name.lower():
                    out.insert(0, self.name)
                else:
                    plain_word = t.isalpha() and t.islower()
                    out.append(t.title() if (exact and t.islower()) or plain_word else t)
        handles = [t.strip() for t in self.terms if t.strip().startswith("@")]
        return tuple(out) or tuple(handles) or (self.name,)

    @property
    def handle(self) -> str:
        for t in self.terms:
            if t.startswith("@") and " " not in t:
                return t
        single = [w for w in self.words if " " not in w]
        return "@" + (single[0] if single else self.slug).lower()


def entities_of(settings: Settings) -> list[Entity]:
    """Brand first, then competitors in config order."""
    return [Entity(n, tuple(t), i) for i, (n, t) in enumerate(settings.entities().items())]


# -- generation ----------------------------------------------------------------
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


def _slots(rng: random.Random, ent: Entity, platform: str, hour: datetime) -> dict[str, str]:
    words = ent.words
    word = words[0] if len(words) == 1 or rng.random() < 0.75 else rng.choice(words[1:])
    b = word if rng.random() < 0.85 else (word.lower() if rng.random() < 0.7 else word.upper())
    h = ent.handle
    if platform == "mastodon":
        h = f"{h}@mastodon.social"
    elif platform == "bluesky":
        h = f"{h}.bsky.social"
    elif platform not in SOCIAL:
        h = f"{b},"  # forums and news do not @-address accounts
    tag_root = ent.slug
    tags = (f"#{tag_root}fail", f"#{tag_root}down", "#customerservice", "#fail", "#outage")
    site = f"https://{ent.slug}.example"
    path = rng.choice(("blog", "news", "changelog", "careers", "docs", "help"))
    return {
        "b": b,
        "h": h,
        "p": rng.choice(PRODUCTS),
        "f": rng.choice(FEATURES),
        "d": rng.choice(DURATIONS),
        "m": rng.choice(MINUTES),
        "s": rng.choice(SHORT),
        "day": rng.choice(DAYS),
        "month": rng.choice(MONTHS),
        "city": rng.choice(CITIES),
        "amt": rng.choice(AMOUNTS),
        "amt2": rng.choice(AMOUNTS),
        "order": f"#{rng.choice(string.ascii_uppercase)}{rng.randint(10000, 99999)}",
        "ticket": f"ticket #{rng.randint(100000, 999999)}",
        "link": f"{site}/{path}/{hour:%Y}/{rng.randint(100, 999)}",
        "sl": f"https://status.{ent.slug}.example",
        "tag": rng.choice(tags),
        "neg": rng.choice(NEG_EMOJI),
        "pos": rng.choice(POS_EMOJI),
        "sarc": rng.choice(SARC_EMOJI),
        "other": rng.choice(OTHERS),
        "years": str(rng.randint(2, 9)),
        "d_de": rng.choice(FOREIGN_DURATIONS["de"]),
        "d_es": rng.choice(FOREIGN_DURATIONS["es"]),
        "d_fr": rng.choice(FOREIGN_DURATIONS["fr"]),
    }


def _text(rng: random.Random, kind: str, slots: dict[str, str]) -> tuple[str, str, str | None]:
    """(text, intent-ish kind, topic or language)."""
    topic: str | None = None
    lang = "en"
    if kind == "complaint":
        topic = rng.choice(sorted(COMPLAINTS))
        tpl = rng.choice(COMPLAINTS[topic])
        if rng.random() < 0.3 and not tpl.endswith("}"):
            tpl = f"{tpl} {rng.choice(CLOSERS)}"
    elif kind == "outage":
        topic, tpl = "outage", rng.choice(OUTAGE)
        kind = "complaint"
    elif kind == "question":
        tpl = rng.choice(QUESTIONS)
    elif kind == "praise":
        tpl = rng.choice(PRAISE)
    elif kind == "sarcasm":
        tpl = rng.choice(SARCASM)
    elif kind == "news":
        tpl = rng.choice(NEWS if rng.random() < 0.7 else NEUTRAL)
    elif kind == "foreign":
        lang = rng.choices(("de", "es", "fr", "ja", "pt", "it"), (3, 3, 3, 2, 1, 1))[0]
        tpl = rng.choice(FOREIGN[lang])
    else:
        tpl = rng.choice(NEUTRAL)
    text = re.sub(r"\s+([.,!?])", r"\1", tpl.format(**slots)).strip()
    return re.sub(r" {2,}", " ", text), kind, topic if lang == "en" else lang


def _b32(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        out.append(B32[n & 31])
        n >>= 5
    return "".join(reversed(out))


def _ids(
    rng: random.Random, platform: str, author: Author, created: datetime, slug: str
) -> tuple[str, str]:
    """(url, native_id) in the shape of the mimicked platform."""
    ms = int(created.timestamp() * 1000)
    user = author.name.split("@")[0]
    if platform == "x":
        sid = ((ms - 1288834974657) << 22) | rng.getrandbits(22)
        return f"https://x.com/{user}/status/{sid}", str(sid)
    if platform == "mastodon":
        sid = (ms << 16) | rng.getrandbits(16)
        return f"https://{author.home}/@{user}/{sid}", str(sid)
    if platform == "bluesky":
        rkey = _b32((int(created.timestamp() * 1_000_000) << 10) | rng.getrandbits(10), 13)
        did = "did:plc:" + _b32(int(hashlib.sha1(author.name.encode()).hexdigest(), 16), 24)
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = "bafyrei" + _b32(rng.getrandbits(260), 52)
        return f"https://bsky.app/profile/{author.name}/post/{rkey}", f"{uri}|{cid}"
    if platform == "reddit":
        pid = _base36(rng.randint(36**6, 36**7 - 1))
        return f"https://www.reddit.com/r/{author.home}/comments/{pid}/{slug}/", f"t3_{pid}"
    if platform == "hackernews":
        hid = 44_000_000 + (ms // 1000 - 1_750_000_000) // 3 + rng.randint(0, 2)
        return f"https://news.ycombinator.com/item?id={hid}", str(hid)
    if platform == "lemmy":
        lid = rng.randint(20_000_000, 40_000_000)
        return f"https://{author.home}/post/{lid}", str(lid)
    return f"https://{author.home}/{created:%Y/%m}/{slug}", ""  # rss: the outlet's article


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _url_slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:6])


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


def _decorate(
    rng: random.Random, ent: Entity, kind: str, platform: str, text: str, slots: dict[str, str]
) -> str:
    """Platform habits: hashtags and links on social networks, flair-like prefixes on Reddit."""
    if platform in SOCIAL:
        if kind in ("complaint", "outage", "sarcasm") and rng.random() < 0.15:
            text = text if "#" in text else f"{text} {slots['tag']}"
        elif kind == "praise" and rng.random() < 0.15:
            text = f"{text} #{ent.slug.capitalize()}Cloud"
        if rng.random() < 0.06 and "http" not in text:
            text = f"{text} {slots['link']}"
    elif platform == "reddit" and kind in REDDIT_FLAIR and rng.random() < 0.4:
        text = f"{rng.choice(REDDIT_FLAIR[kind])} {text}"
    return text


def _thread_url(reply: Mention, root: Mention) -> Mention:
    """Forum replies are comments under the root post's URL."""
    n = int(hashlib.sha1(reply.external_id.encode()).hexdigest()[:12], 16)
    if root.platform == "reddit":
        cid = _base36(n % 36**7)
        url = f"{root.url.rstrip('/')}/comment/{cid}/"
        return dataclasses.replace(reply, url=url, native_id=f"t1_{cid}")
    if root.platform == "lemmy":
        host = root.url.split("/post/")[0]
        num = 10_000_000 + n % 30_000_000
        return dataclasses.replace(reply, url=f"{host}/comment/{num}", native_id=str(num))
    return reply


def _mark_roots(posts: list[Mention]) -> list[Mention]:
    """A root post with replies carries its own id as thread_id."""
    roots = {m.thread_id for m in posts if m.thread_id}
    return [
        dataclasses.replace(m, thread_id=m.external_id)
        if m.external_id in roots and not m.thread_id
        else m
        for m in posts
    ]


def generate_entity(
    ent: Entity,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    rate: float = 1.0,
    spike_at: datetime | None = None,
) -> Iterator[Mention]:
    """One entity's posts with start <= created_at < end, ascending."""
    start, end = as_utc(start), as_utc(end)
    hour = _hour_floor(start)
    while hour < end:
        for m in generate_hour(ent, hour, seed=seed, rate=rate, spike_at=spike_at):
            if start <= m.created_at < end:
                yield m
        hour += HOUR


def generate(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    rate: float = 1.0,
    spike_at: datetime | None = None,
) -> Iterator[Mention]:
    """Raw (un-enriched) demo posts for the brand and competitors, ascending created_at.

    Deterministic: the same (settings, seed, spike_at) yield the same posts for
    any time range, however it is split. `spike_at` places the outage spike (the
    brand's volume x5, mostly negative, for four hours); None means no spike.
    """
    streams = [
        generate_entity(e, start, end, seed=seed, rate=rate, spike_at=spike_at)
        for e in entities_of(settings)
    ]
    yield from heapq.merge(*streams, key=lambda m: (m.created_at, m.external_id))


def spike_time(now: datetime) -> datetime:
    """Where `seed_demo` puts the outage: 14:00 UTC two days before now (36-62 hours ago)."""
    return (_hour_floor(as_utc(now)) - timedelta(days=2)).replace(hour=14)


def is_empty(store: Store) -> bool:
    """True when the database holds no mentions at all (then `earful up` seeds the demo)."""
    return store.count_mentions() == 0


def seed_demo(
    store: Store,
    settings: Settings,
    *,
    days: int = 30,
    seed: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Generate, enrich and store `days` of demo history up to `now`; return rows inserted.

    Stores one chunk (a few hours) per transaction. The last one also saves the
    cursor `{"until": now}` under ("demo", "seed") and, for every configured demo
    source, under each entity's query key, so the live listener continues from
    there instead of regenerating the window.

    Then `earful.demo_support.simulate_support` plays a support team through the
    queue items older than a few hours (replies, resolutions, dismissals, audit
    rows), so the queue and its KPIs look like a working team's; the newest
    items stay open. `progress(done, total)` counts hours, the last twentieth
    of it being that second phase.
    """
    from earful.demo_support import simulate_support
    from earful.pipeline import Pipeline  # late: the listener imports this module too

    now = as_utc(now or utcnow())
    start = now - timedelta(days=days)
    spike_at = spike_time(now)
    from earful.queue import attach_settings

    attach_settings(store, settings)  # queue items get the config's SLA targets
    pipe = Pipeline(settings)
    total = days * 24
    support_share = max(1, total // 20)  # of the progress total
    chunk = 12
    inserted = 0
    done = 0
    t = start
    cursor: dict[str, Any] = {
        "until": now.isoformat(),
        "seed": seed,
        "spike_at": spike_at.isoformat(),
    }
    while t < now:
        e = min(t + chunk * HOUR, now)
        raw = [  # history looks as if it had been fetched shortly after it was posted
            dataclasses.replace(m, fetched_at=min(m.created_at + FETCH_LAG, now))
            for m in generate(settings, t, e, seed=seed, spike_at=spike_at)
        ]
        kept, _dropped = pipe.enrich_all(raw)
        last = e >= now
        with store.write() as conn:
            res = store.save_page(
                "demo", "seed", kept, cursor if last else None, now=now, conn=conn
            )
            if last:
                _continue_cursors(store, conn, settings, cursor, now)
        inserted += res.inserted
        done = min(total, done + chunk)
        if progress is not None:
            progress(done * (total - support_share) // total, total)
        t = e

    def support_progress(d: int, n: int) -> None:
        if progress is not None:
            progress(total - support_share + support_share * d // max(1, n), total)

    simulate_support(store, settings, seed=seed, now=now, progress=support_progress)
    if progress is not None:
        progress(total, total)
    return inserted


def _continue_cursors(
    store: Store, conn: Any, settings: Settings, cursor: dict[str, Any], now: datetime
) -> None:
    import sqlalchemy as sa

    from earful.schema import cursors

    keys = [s.key for s in settings.sources if s.platform == "demo"] or ["demo"]
    for source in keys:
        for entity in settings.entities():
            old = conn.scalar(
                sa.select(cursors.c.cursor).where(
                    cursors.c.source == source, cursors.c.query_key == entity
                )
            )
            if old and old.get("until"):
                if as_utc(datetime.fromisoformat(old["until"])) >= now:
                    continue
            store.set_cursor(conn, source, entity, dict(cursor), now)


__all__ = [
    "Entity",
    "entities_of",
    "generate",
    "generate_entity",
    "generate_hour",
    "is_empty",
    "seed_demo",
    "spike_time",
]

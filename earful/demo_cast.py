"""Who posts in the demo stream: the entities (brand and competitors) and each platform's authors.

Part of `earful.demo`. `Entity` is one stream, the brand (rank 0) or a
competitor, with the words people write it with and the handle they address;
`entities_of` reads them from the settings in config order. `_authors` is a
platform's fixed pool of 400 authors (names in the platform's shape, home
instance or subreddit, heavy-tailed follower counts) with Zipf weights, so a
few regulars post a lot.

The cut is here because these are the fixed cast every hour bucket draws
from, built from the seed and the settings alone (no RNG of an hour, no
clock): `earful.demo_hour` makes the posts, `earful.demo_support_plan` reads
the brand's handle and slug for the team's replies.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from earful.demo_templates import FIRST, INSTANCES, SUBREDDITS, WORDS

if TYPE_CHECKING:
    from earful.config import Settings

# Platforms of accounts: follower counts, @-handles, hashtags, a language field.
SOCIAL = ("x", "mastodon", "bluesky")


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

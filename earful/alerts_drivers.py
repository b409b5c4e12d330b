"""What explains a spike: its window's top terms, platforms and example posts.

`spike_drivers` reads up to `DRIVER_POSTS` mentions of one entity in one
window (the most engaged first) off the indexed mentions and counts the
content words they use, leaving out `STOPWORDS` and the entity's own terms
(`entity_stopwords`); `earful.alerts` attaches the result to each spike and
quotes it in the summary.

The cut is here because this is text analysis over a handful of posts, with
nothing but a connection and the settings passed in, while `earful.alerts`
decides whether an hour is a spike at all from the rollup's counts; the word
lists change for reasons that have nothing to do with the thresholds.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earful.config import Settings, split_terms
from earful.schema import mentions

DRIVER_POSTS = 500
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)
# General English function words; drivers should be content words.
STOPWORDS = frozenset(
    """
    the and for are but not you your yours with this that these those from have has had was were
    will would can could should shall been being they them their there here what when where which
    who whom why how all any some just about into over than then too very also only our ours out
    get got its it's i'm im i've you're don't doesn't didn't can't won't isn't aren't wasn't one
    more most much many such own same other again once both each few off under until while
    does did doing because let lets via amp http https www com today now still even really
    """.split()
)


def entity_stopwords(settings: Settings, entity: str) -> set[str]:
    words = {entity.lower()}
    for t, _ in split_terms(settings.entities().get(entity, [])):
        words.update(w.lower().lstrip("@#") for w in t.split())
    return words


def spike_drivers(
    conn: Connection,
    settings: Settings,
    entity: str,
    start: datetime,
    end: datetime,
    *,
    negative: bool = False,
) -> dict[str, Any]:
    """Top terms (by number of posts using them), platforms and example posts of one window."""
    m = mentions.c
    where = [m.matched == entity, m.created_at >= start, m.created_at < end]
    if negative:
        where.append(m.label == "negative")
    rows = conn.execute(
        sa.select(m.id, m.platform, m.author, m.url, m.text, m.engagement, m.label)
        .where(*where)
        .order_by(m.engagement.desc(), m.created_at.desc())
        .limit(DRIVER_POSTS)
    ).all()
    skip = STOPWORDS | entity_stopwords(settings, entity)
    terms: Counter[str] = Counter()
    platforms: Counter[str] = Counter()
    for r in rows:
        platforms[r.platform] += 1
        words = {w.lower().strip("'’-") for w in _WORD.findall(r.text or "")}
        terms.update(w for w in words if len(w) >= 3 and w not in skip)
    top = [(t, n) for t, n in terms.most_common(8) if n >= 2 or len(rows) < 4]
    examples = [
        {
            "mention_id": int(r.id),
            "platform": r.platform,
            "author": r.author,
            "url": r.url,
            "text": (r.text or "")[:280],
            "label": r.label,
        }
        for r in rows[:3]
    ]
    return {"top_terms": top, "platforms": platforms.most_common(), "examples": examples}

"""Read queries for the dashboard and the export: bounded SQL aggregates, never full scans.

`MentionFilter` turns the Mentions page's filters into one SQL WHERE that the
page's table, its counts and `earful.export` all share, so the numbers agree.
Trend numbers (Overview) come from `rollup_hourly`, never from raw mentions.
Every function takes the `Store` and returns plain values or small DataFrames.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from earful.schema import (
    mentions,
    rollup_hourly,
    source_health,
)
from earful.store import Store
from earful.trends import rollup_sums

m = mentions.c
r = rollup_hourly.c
SCORED = ("positive", "neutral", "negative")
TEXT_PREVIEW = 300  # characters of each post loaded for a table row


# -- the shared filter -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MentionFilter:
    """What the Mentions page filters on; `conditions()` is the SQL both it and the export use."""

    since: datetime | None = None
    until: datetime | None = None
    platforms: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()  # brand or competitor names (mentions.matched)
    search: str = ""
    min_followers: int | None = None
    langs: tuple[str, ...] = ()
    demo: bool | None = None  # None: both; False: real mentions only

    def conditions(self, dialect: str | None = None) -> list[ColumnElement[bool]]:
        """SQL conditions; on SQLite (`dialect="sqlite"`) search uses the FTS5 index."""
        c: list[ColumnElement[bool]] = []
        if self.since is not None:
            c.append(m.created_at >= self.since)
        if self.until is not None:
            c.append(m.created_at < self.until)
        if self.platforms:
            c.append(m.platform.in_(self.platforms))
        if self.labels:
            c.append(m.label.in_(self.labels))
        if self.intents:
            c.append(m.intent.in_(self.intents))
        if self.entities:
            c.append(m.matched.in_(self.entities))
        if self.langs:
            c.append(m.lang.in_(self.langs))
        if self.min_followers:
            c.append(m.author_followers >= self.min_followers)
        if self.demo is not None:
            c.append(m.is_demo.is_(self.demo))
        words = _search_words(self.search)
        fts = [w for w in words if re.search(r"\w", w)] if dialect == "sqlite" else []
        if fts:
            c.append(m.id.in_(_fts_rowids(fts)))
        for word in words:
            if word not in fts:
                c.append(sa.func.lower(m.text).contains(word, autoescape=True))
        return c

    def where(self, sel: Any, dialect: str | None = None) -> Any:
        conds = self.conditions(dialect)
        return sel.where(*conds) if conds else sel


def _fts_rowids(words: list[str]) -> Any:
    """Mention ids whose text has every word (as a word prefix) or phrase, via mentions_fts."""
    terms = ['"' + " ".join(re.findall(r"\w+", w)) + '"*' for w in words]
    fts = sa.table("mentions_fts", sa.column("rowid"))
    return sa.select(fts.c.rowid).where(
        sa.literal_column("mentions_fts").op("MATCH")(" ".join(terms))
    )


def _search_words(search: str) -> list[str]:
    """Free text: every word must appear (case-insensitive substring); "quoted phrases" kept."""
    s = (search or "").strip().lower()
    if not s:
        return []
    words = re.findall(r'"([^"]+)"|(\S+)', s)
    return [a or b for a, b in words][:8]


# -- mentions: counts, pages, aggregates ------------------------------------------
def count_mentions(store: Store, f: MentionFilter | None = None) -> int:
    f = f or MentionFilter()
    with store.read() as conn:
        return int(
            conn.scalar(f.where(sa.select(sa.func.count()).select_from(mentions), store.dialect))
            or 0
        )


LIST_COLUMNS = (
    "id",
    "created_at",
    "platform",
    "author",
    "author_followers",
    "matched",
    "label",
    "compound",
    "intent",
    "lang",
    "text",
    "url",
    "is_demo",
)


def list_mentions(
    store: Store, f: MentionFilter | None = None, *, limit: int = 50, offset: int = 0
) -> pd.DataFrame:
    """One page of mentions, newest first; text cut to a preview (open one for the full body)."""
    f = f or MentionFilter()
    sel = sa.select(
        m.id,
        m.created_at,
        m.platform,
        m.author,
        m.author_followers,
        m.matched,
        m.label,
        m.compound,
        m.intent,
        m.lang,
        sa.func.substr(m.text, 1, TEXT_PREVIEW).label("text"),
        m.url,
        m.is_demo,
    )
    sel = (
        f.where(sel, store.dialect)
        .order_by(m.created_at.desc(), m.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with store.read() as conn:
        rows = conn.execute(sel).all()
    return pd.DataFrame([tuple(x) for x in rows], columns=list(LIST_COLUMNS))


def get_mention(store: Store, mention_id: int) -> dict[str, Any] | None:
    """Every stored column of one mention (except the raw payload), or None."""
    cols = [c for c in mentions.c if c.name != "raw"]
    with store.read() as conn:
        row = conn.execute(sa.select(*cols).where(m.id == mention_id)).first()
    return dict(row._mapping) if row else None


def _on_hour(t: datetime | None) -> bool:
    return t is None or (t.minute, t.second, t.microsecond) == (0, 0, 0)


def rollup_answers(f: MentionFilter) -> bool:
    """True when the rollup holds exactly the filtered set's counts (hour-aligned period,
    filters on platform, entity and sentiment only): then counts skip the mentions table."""
    return (
        _on_hour(f.since)
        and _on_hour(f.until)
        and not (f.intents or f.search.strip() or f.min_followers or f.langs)
        and f.demo is None
    )


def label_counts(store: Store, f: MentionFilter | None = None) -> dict[str, int]:
    """Sentiment distribution of the filtered set (sums to `count_mentions`).

    Read from the rollup when it answers exactly (`rollup_answers`), else from mentions.
    """
    f = f or MentionFilter()
    if rollup_answers(f):
        with store.read() as conn:
            sums = rollup_sums(
                conn,
                f.since,
                f.until,
                ("label",),
                platforms=f.platforms,
                entities=f.entities,
                labels=f.labels,
            )
        return {k[0]: int(v[0]) for k, v in sums.items() if v[0]}
    sel = f.where(
        sa.select(m.label, sa.func.count()).select_from(mentions), store.dialect
    ).group_by(m.label)
    with store.read() as conn:
        return {str(k): int(v) for k, v in conn.execute(sel) if v}


AUTHORS_WINDOW = 20_000  # top authors are ranked among this many newest matching mentions


def top_authors(
    store: Store, f: MentionFilter | None = None, *, limit: int = 10, window: int = AUTHORS_WINDOW
) -> pd.DataFrame:
    """Authors with the biggest audience among the newest `window` mentions of the filtered set.

    Bounded on purpose: a year of mentions is never grouped at once.
    """
    f = f or MentionFilter()
    newest = (
        f.where(sa.select(m.platform, m.author, m.author_followers), store.dialect)
        .where(m.author != "")
        .order_by(m.created_at.desc())
        .limit(window)
        .subquery()
    )
    followers = sa.func.max(newest.c.author_followers)
    sel = (
        sa.select(
            newest.c.platform,
            newest.c.author,
            followers.label("followers"),
            sa.func.count().label("mentions"),
        )
        .group_by(newest.c.platform, newest.c.author)
        .order_by(sa.func.coalesce(followers, -1).desc(), sa.func.count().desc())
        .limit(limit)
    )
    with store.read() as conn:
        rows = conn.execute(sel).all()
    return pd.DataFrame(
        [tuple(x) for x in rows], columns=["platform", "author", "followers", "mentions"]
    )


def sample_texts(store: Store, f: MentionFilter | None = None, *, limit: int = 2000) -> list[str]:
    """The newest `limit` texts of the filtered set (for term, hashtag and link counts)."""
    f = f or MentionFilter()
    sel = f.where(sa.select(sa.func.substr(m.text, 1, 2000)), store.dialect).order_by(
        m.created_at.desc()
    )
    with store.read() as conn:
        return [str(t) for t in conn.scalars(sel.limit(limit))]


def has_demo(store: Store) -> bool:
    """Whether any demo mention is stored (the UI labels demo data)."""
    with store.read() as conn:
        return conn.scalar(sa.select(m.id).where(m.is_demo.is_(True)).limit(1)) is not None


def distinct_languages(store: Store) -> list[str]:
    """Languages seen, by hopping through the lang index (one probe per language, not per row)."""
    sql = sa.text(
        "WITH RECURSIVE langs(x) AS ("
        " SELECT (SELECT MIN(lang) FROM mentions WHERE lang IS NOT NULL)"
        " UNION ALL"
        " SELECT (SELECT MIN(lang) FROM mentions WHERE lang > langs.x) FROM langs"
        " WHERE langs.x IS NOT NULL"
        ") SELECT x FROM langs WHERE x IS NOT NULL LIMIT 500"
    )
    with store.read() as conn:
        return sorted(str(x) for x in conn.scalars(sql) if x)


def known_platforms(store: Store, since: datetime | None = None) -> list[str]:
    """Platforms with mentions since `since` (from the rollup's hour-keyed rows: cheap)."""
    sel = sa.select(r.platform).distinct()
    if since is not None:
        sel = sel.where(r.hour >= since)
    with store.read() as conn:
        return sorted(str(x) for x in conn.scalars(sel))


def failing_sources(store: Store) -> list[tuple[str, str]]:
    """(source, last error) for sources whose latest polls failed."""
    h = source_health.c
    sel = (
        sa.select(h.source, h.last_error)
        .where(h.consecutive_failures > 0)
        .order_by(h.source)
        .limit(50)
    )
    with store.read() as conn:
        return [(str(a), str(b or "")) for a, b in conn.execute(sel)]


# -- words, hashtags, links (pure) -------------------------------------------------
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.I)
_HASHTAG = re.compile(r"(?<![\w&])#(\w{2,60})", re.U)
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.U)
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be been before being but by can
    could did do does doing don't for from get got had has have having he her here hers him his
    how i i'm if in into is isn't it it's its just let me more most my no not now of off on once
    only or other our out over own same she should so some such than that that's the their them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours i've you're can't im dont
    rt via amp http https www com one really still even much""".split()
)


def top_terms(
    texts: Iterable[str], *, exclude: Iterable[str] = (), limit: int = 15
) -> list[tuple[str, int]]:
    """Most frequent words (no stopwords, links, handles or the configured brand terms)."""
    skip = set(STOPWORDS) | {w for t in exclude for w in re.findall(r"[\w'’-]+", t.lower())}
    counts: Counter[str] = Counter()
    for t in texts:
        t = _URL.sub(" ", t)
        t = re.sub(r"[@#][\w.@-]+", " ", t)
        seen = {w.lower().strip("'’-") for w in _WORD.findall(t)}
        counts.update(w for w in seen if w and w not in skip and len(w) > 2)
    return counts.most_common(limit)


def top_hashtags(texts: Iterable[str], *, limit: int = 15) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update({"#" + h.lower() for h in _HASHTAG.findall(t)})
    return counts.most_common(limit)


def top_links(texts: Iterable[str], *, limit: int = 15) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update({u.rstrip(".,;:!?") for u in _URL.findall(t)})
    return counts.most_common(limit)


def spike_terms(
    store: Store, start: datetime, end: datetime, entity: str, *, exclude: Sequence[str] = ()
) -> tuple[str, ...]:
    """Top terms of an entity's mentions in a window (bounded sample)."""
    f = MentionFilter(since=start, until=end, entities=(entity,))
    terms = top_terms(sample_texts(store, f, limit=500), exclude=exclude, limit=6)
    return tuple(f"{t} ({n})" for t, n in terms)


__all__ = [
    "AUTHORS_WINDOW",
    "MentionFilter",
    "count_mentions",
    "distinct_languages",
    "failing_sources",
    "get_mention",
    "has_demo",
    "known_platforms",
    "label_counts",
    "list_mentions",
    "rollup_answers",
    "sample_texts",
    "spike_terms",
    "top_authors",
    "top_hashtags",
    "top_links",
    "top_terms",
]

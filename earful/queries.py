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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from earful.schema import (
    alerts,
    mentions,
    queue_items,
    rollup_daily,
    rollup_entity_hourly,
    rollup_hourly,
    source_health,
)
from earful.store import Store

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
            sums = _rollup_sums(
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


# -- the rollup (Overview) ---------------------------------------------------------
def _day_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _rollup_sums(
    conn: Any,
    start: datetime | None,
    end: datetime | None,
    keys: tuple[str, ...],
    *,
    platforms: Sequence[str] = (),
    entities: Sequence[str] = (),
    labels: Sequence[str] = (),
) -> dict[tuple[str, ...], list[float]]:
    """Sum n and compound_sum over [start, end) by `keys` (of matched, platform, label).

    Whole UTC days come from rollup_daily, the ragged hours at either end from
    rollup_hourly: a year reads ~30,000 rows instead of ~700,000.
    """
    d0 = None if start is None else _day_floor(start)
    if d0 is not None and start is not None and d0 < start:
        d0 += timedelta(days=1)
    d1 = None if end is None else _day_floor(end)
    parts: list[tuple[sa.Table, Any, datetime | None, datetime | None]] = []
    if d0 is None or d1 is None or d0 < d1:
        parts.append((rollup_daily, rollup_daily.c.day, d0, d1))
        if start is not None and d0 is not None and start < d0:
            parts.append((rollup_hourly, r.hour, start, d0))
        if end is not None and d1 is not None and d1 < end:
            parts.append((rollup_hourly, r.hour, d1, end))
    else:  # less than one whole day
        parts.append((rollup_hourly, r.hour, start, end))
    out: dict[tuple[str, ...], list[float]] = {}
    for table, col, a, b in parts:
        c = table.c
        conds: list[ColumnElement[bool]] = []
        if a is not None:
            conds.append(col >= a)
        if b is not None:
            conds.append(col < b)
        if platforms:
            conds.append(c.platform.in_(tuple(platforms)))
        if entities:
            conds.append(c.matched.in_(tuple(entities)))
        if labels:
            conds.append(c.label.in_(tuple(labels)))
        sel = (
            sa.select(*(c[k] for k in keys), sa.func.sum(c.n), sa.func.sum(c.compound_sum))
            .where(*conds)
            .group_by(*(c[k] for k in keys))
        )
        for row in conn.execute(sel):
            acc = out.setdefault(tuple(str(x) for x in row[: len(keys)]), [0, 0.0])
            acc[0] += int(row[-2] or 0)
            acc[1] += float(row[-1] or 0.0)
    return out


def rollup_totals(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Counts for [start, end) by entity, platform and label: columns matched, platform, label, n, compound_sum."""
    with store.read() as conn:
        sums = _rollup_sums(conn, start, end, ("matched", "platform", "label"))
    rows = [(*k, int(v[0]), v[1]) for k, v in sums.items() if v[0]]
    df = pd.DataFrame(rows, columns=["matched", "platform", "label", "n", "compound_sum"])
    return df.astype({"n": "int64", "compound_sum": "float64"})


def platform_counts(store: Store, start: datetime, end: datetime, entity: str) -> tuple[str, ...]:
    """'platform (n)' for an entity's mentions in a short window, biggest first."""
    with store.read() as conn:
        sums = _rollup_sums(conn, start, end, ("platform",), entities=(entity,))
    ranked = sorted(((k[0], int(v[0])) for k, v in sums.items() if v[0]), key=lambda x: -x[1])
    return tuple(f"{p} ({n})" for p, n in ranked[:5])


def _offset_segments(
    start: datetime, end: datetime, tz: ZoneInfo
) -> list[tuple[datetime, datetime, int]]:
    """[start, end) split where the zone's UTC offset changes: (from, to, offset minutes)."""
    segs: list[tuple[datetime, datetime, int]] = []
    t = start
    cur = int((t.astimezone(tz).utcoffset() or timedelta()).total_seconds() // 60)
    seg_start = t
    while t < end:
        off = int((t.astimezone(tz).utcoffset() or timedelta()).total_seconds() // 60)
        if off != cur:
            segs.append((seg_start, t, cur))
            seg_start, cur = t, off
        t += timedelta(hours=1)
    segs.append((seg_start, end, cur))
    return segs


def _local_day(store: Store, minutes: int) -> Any:
    h = rollup_entity_hourly.c.hour
    if store.dialect == "postgresql":
        return sa.func.to_char(h + sa.func.make_interval(0, 0, 0, 0, 0, minutes), "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", h, f"{minutes:+d} minutes")


def rollup_series(
    store: Store, start: datetime, end: datetime, *, tz: ZoneInfo, hourly: bool
) -> pd.DataFrame:
    """Counts per time bucket (local hour or local day in `tz`) x entity x label.

    Columns: bucket (tz-aware Timestamp in `tz`), matched, label, n, compound_sum.
    Days are cut at local midnight, DST included (one query per UTC-offset segment).
    Reads rollup_entity_hourly (no platform dimension: a year is ~100,000 rows).
    """
    e = rollup_entity_hourly.c
    cols = ["bucket", "matched", "label", "n", "compound_sum"]
    rows: list[tuple[Any, ...]] = []
    with store.read() as conn:
        if hourly:
            segs: list[tuple[datetime, datetime, Any]] = [(start, end, e.hour)]
        else:
            segs = [
                (a, b, _local_day(store, off)) for a, b, off in _offset_segments(start, end, tz)
            ]
        for a, b, bucket in segs:
            sel = (
                sa.select(
                    bucket.label("bucket"),
                    e.matched,
                    e.label,
                    sa.func.sum(e.n),
                    sa.func.sum(e.compound_sum),
                )
                .where(e.hour >= a, e.hour < b)
                .group_by(bucket, e.matched, e.label)
            )
            rows.extend(tuple(x) for x in conn.execute(sel))
    df = pd.DataFrame(rows, columns=cols)
    df = df[df["n"] > 0] if not df.empty else df
    if df.empty:
        df = pd.DataFrame(columns=cols)
        df["bucket"] = pd.to_datetime(df["bucket"]).dt.tz_localize(tz)
        return df.astype({"n": "int64", "compound_sum": "float64"})
    if hourly:
        df["bucket"] = pd.to_datetime(df["bucket"], utc=True).dt.tz_convert(tz)
    else:
        df["bucket"] = pd.to_datetime(df["bucket"]).dt.tz_localize(tz)
        # segments split at an offset change can share a day: merge them
        df = df.groupby(cols[:3], as_index=False)[["n", "compound_sum"]].sum()
    return df.astype({"n": "int64", "compound_sum": "float64"})


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    value: float | None
    previous: float | None
    kind: str = "count"  # count | ratio | pct | seconds
    help: str = ""
    inverse: bool = False  # True: going up is bad

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def sentiment_stats(totals: pd.DataFrame, entity: str | None = None) -> dict[str, float | None]:
    """mentions, net sentiment ((pos-neg)/scored), share negative, from rollup totals."""
    df = totals if entity is None else totals[totals["matched"] == entity]
    by = df.groupby("label")["n"].sum() if not df.empty else pd.Series(dtype="int64")
    pos, neg, neu = (int(by.get(k, 0)) for k in ("positive", "negative", "neutral"))
    scored = pos + neg + neu
    return {
        "mentions": float(by.sum()) if len(by) else 0.0,
        "net": (pos - neg) / scored if scored else None,
        "negative_share": neg / scored if scored else None,
    }


def share_of_voice(totals: pd.DataFrame, entity: str) -> float | None:
    total = int(totals["n"].sum()) if not totals.empty else 0
    if not total:
        return None
    return float(totals.loc[totals["matched"] == entity, "n"].sum()) / total


# -- the reply queue (read-only numbers) -------------------------------------------
q = queue_items.c


def open_complaints(store: Store) -> int:
    """Open queue items whose mention is a complaint (now)."""
    sel = (
        sa.select(sa.func.count())
        .select_from(queue_items.join(mentions, m.id == q.mention_id))
        .where(q.status == "open", m.intent == "complaint")
    )
    with store.read() as conn:
        return int(conn.scalar(sel) or 0)


def new_complaints(store: Store, start: datetime, end: datetime) -> int:
    """Complaints posted in [start, end) (the intent + time index counts them)."""
    sel = (
        sa.select(sa.func.count())
        .select_from(mentions)
        .where(m.intent == "complaint", m.created_at >= start, m.created_at < end)
    )
    with store.read() as conn:
        return int(conn.scalar(sel) or 0)


def _seconds_between(store: Store, later: Any, earlier: Any) -> Any:
    if store.dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


FRT_WINDOW = 20_000  # first replies considered by the median (the newest ones)


def median_first_response(
    store: Store, start: datetime, end: datetime, *, window: int = FRT_WINDOW
) -> float | None:
    """Median seconds from waiting_since to first_reply_at, for first replies made in [start, end).

    Bounded: among the newest `window` first replies of the period (exact below that).
    """
    dur = _seconds_between(store, q.first_reply_at, q.waiting_since)
    sel = (
        sa.select(dur)
        .where(q.first_reply_at.is_not(None), q.first_reply_at >= start, q.first_reply_at < end)
        .order_by(q.first_reply_at.desc())
        .limit(window)
    )
    with store.read() as conn:
        values = sorted(float(x) for x in conn.scalars(sel) if x is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# -- spikes ---------------------------------------------------------------------------
SPIKE_KINDS = ("volume_spike", "negative_spike")


@dataclass(frozen=True, slots=True)
class Spike:
    at: datetime  # UTC start of the spike window
    end: datetime
    kind: str
    subject: str
    summary: str
    terms: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    source: str = "alert"  # alert | computed
    extra: dict[str, Any] = field(default_factory=dict)


def _as_names(value: Any) -> tuple[str, ...]:
    """Alert details may hold ['a', 'b'], [['a', 3]], [{'term': 'a', 'n': 3}] or {'a': 3}."""
    out: list[str] = []
    if isinstance(value, dict):
        value = list(value.items())
    for v in value or ():
        if isinstance(v, list | tuple) and v:
            out.append(f"{v[0]} ({v[1]})" if len(v) > 1 else str(v[0]))
        elif isinstance(v, dict):
            name = v.get("term") or v.get("platform") or v.get("name") or next(iter(v.values()), "")
            n = v.get("n") or v.get("count")
            out.append(f"{name} ({n})" if n is not None else str(name))
        else:
            out.append(str(v))
    return tuple(out[:8])


def alert_spikes(store: Store, start: datetime, end: datetime, *, limit: int = 100) -> list[Spike]:
    """volume/negative spike alerts whose window starts in [start, end), from the alerts table."""
    a = alerts.c
    sel = (
        sa.select(a.kind, a.subject, a.window_start, a.window_end, a.summary, a.details)
        .where(a.kind.in_(SPIKE_KINDS), a.window_start >= start, a.window_start < end)
        .order_by(a.window_start)
        .limit(limit)
    )
    with store.read() as conn:
        rows = conn.execute(sel).all()
    out = []
    for row in rows:
        d = row.details if isinstance(row.details, dict) else {}
        out.append(
            Spike(
                at=row.window_start,
                end=row.window_end,
                kind=row.kind,
                subject=row.subject,
                summary=row.summary,
                terms=_as_names(d.get("top_terms") or d.get("terms")),
                platforms=_as_names(d.get("platforms") or d.get("top_platforms")),
            )
        )
    return out


def computed_spikes(
    series: pd.DataFrame,
    entity: str,
    *,
    window: int,
    k: float = 3.0,
    min_count: int = 10,
    limit: int = 5,
) -> list[tuple[pd.Timestamp, int, float]]:
    """Buckets where the entity's volume jumps above mean + k*std of the previous `window` buckets.

    Returns (bucket, count, baseline) for at most `limit` spikes, biggest first, at least
    `window` buckets apart (an outage lasting a few hours is one spike).
    """
    df = series[series["matched"] == entity]
    if df.empty:
        return []
    s = df.groupby("bucket")["n"].sum().sort_index()
    base = s.shift(1).rolling(window, min_periods=max(3, window // 2))
    mean, std = base.mean(), base.std().fillna(0)
    hit = (s >= min_count) & (s > mean + k * std.clip(lower=1)) & (s >= 2 * mean)
    found = [(ts, int(s[ts]), float(mean[ts])) for ts in s.index[hit.fillna(False)]]
    found.sort(key=lambda x: x[1] - x[2], reverse=True)
    # one marker per event: neighbours of a bigger spike (within `window` buckets) are dropped
    pos = {ts: i for i, ts in enumerate(s.index)}
    kept: list[tuple[pd.Timestamp, int, float]] = []
    for cand in found:
        if all(abs(pos[cand[0]] - pos[k[0]]) > window for k in kept):
            kept.append(cand)
    return kept[:limit]


def to_utc(ts: pd.Timestamp | datetime) -> datetime:
    return pd.Timestamp(ts).tz_convert(UTC).to_pydatetime()


def bucket_end(ts: pd.Timestamp, hourly: bool) -> pd.Timestamp:
    """The end of a bucket, DST-safe for local days."""
    if hourly:
        return ts + pd.Timedelta(hours=1)
    return (ts.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(ts.tz)


def spike_terms(
    store: Store, start: datetime, end: datetime, entity: str, *, exclude: Sequence[str] = ()
) -> tuple[str, ...]:
    """Top terms of an entity's mentions in a window (bounded sample)."""
    f = MentionFilter(since=start, until=end, entities=(entity,))
    terms = top_terms(sample_texts(store, f, limit=500), exclude=exclude, limit=6)
    return tuple(f"{t} ({n})" for t, n in terms)


__all__ = [
    "AUTHORS_WINDOW",
    "FRT_WINDOW",
    "Kpi",
    "MentionFilter",
    "Spike",
    "alert_spikes",
    "bucket_end",
    "computed_spikes",
    "count_mentions",
    "distinct_languages",
    "failing_sources",
    "get_mention",
    "has_demo",
    "known_platforms",
    "label_counts",
    "list_mentions",
    "median_first_response",
    "new_complaints",
    "open_complaints",
    "platform_counts",
    "rollup_answers",
    "rollup_series",
    "rollup_totals",
    "sample_texts",
    "sentiment_stats",
    "share_of_voice",
    "spike_terms",
    "to_utc",
    "top_authors",
    "top_hashtags",
    "top_links",
    "top_terms",
]

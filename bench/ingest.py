"""Ingest throughput: 100,000 posts replayed from a local server through the whole pipeline.

Run: .venv/bin/python bench/ingest.py [--posts N] [--db-dir DIR]
(progress on stderr, figures on stdout)

A fake Hacker News search (Algolia `search_by_date`, 1,000 hits per page, the
real 1,000-hits-per-query cap, 2% of each page repeated from the previous
one so dedupe has work) serves N synthetic customer-service posts on
127.0.0.1. A worker process runs `earful listen --once` code against it:
fetch, parse, clean, match, score, triage, dedupe, store with the hourly
rollup and the reply queue on SQLite, consecutive pages sharing a
transaction (up to 5,000 mentions, as `earful listen` writes them). It
reports posts per second; in the same run, VADER's bare `polarity_scores`
rate on the same texts gives the floor of the cost and the ratio. A second
run splits the posts over two sources polled by two worker processes
writing the same database, to show how throughput scales.
Then, in this process, each stage is timed on the pages the server sends
(microseconds per post): JSON (orjson, as the listeners decode), parse, the listener's term check, enrich
(with the Scorer and classify timed apart on the same texts) and store
(with the time SQLite itself spends in statements and commits: mostly the
mentions INSERT, which keeps ten indexes and the FTS5 table, and the commit
that writes those pages to the WAL).
Last, the ceiling those parts set on the ratio: VADER's cost over the cost of
the Scorer, classify and SQLite's own time alone, as if every other line of
Python cost nothing.
Texts are generated here from generic templates (no evaluation data), or,
with `--texts airline`, are the real customer tweets of the airline
evaluation set read at run time from ../shared/benchmarks (evaluation only:
nothing is copied): about 14,000 distinct texts, far more varied than the
templates, so every cache starts cold, as it does for a listener's real
posts. The parts of enrich (Scorer, classify) are timed with their caches
emptied too.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import html
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ENTITIES = {"Acme": ["acme"], "Globex": ["globex"], "Initech": ["initech"]}
# --texts airline: real customer tweets (evaluation set, read at run time from
# ../shared/benchmarks, never stored here), the first entity being the brand.
AIRLINES = {
    "United": ["united"],
    "American": ["americanair"],
    "Delta": ["delta"],
    "Southwest": ["southwestair"],
    "JetBlue": ["jetblue"],
    "US Airways": ["usairways"],
    "Virgin America": ["virginamerica"],
}
OPENERS = [
    "Honestly",
    "Ugh,",
    "Quick question:",
    "Big thanks to",
    "Not impressed with",
    "Day three and",
    "So happy with",
    "Can anyone explain why",
    "PSA:",
    "",
]
BODIES = [
    "{b} charged me twice this month and support has not replied",
    "{b} support fixed my login issue in ten minutes, great team",
    "is {b} down again? the app will not load for me",
    "{b} shipped the wrong size and the return label link is broken",
    "the new {b} dashboard is really nice, much faster than before",
    "how do I export my data from {b} before cancelling?",
    "{b} outage took our checkout offline for two hours",
    "switched from a competitor to {b} last week and it just works",
    "my {b} order says delivered but nothing arrived",
    "{b} raised prices again without any notice, thinking of leaving",
    "anyone tried the {b} API for webhooks? docs are a bit thin",
    "{b} customer service was rude and unhelpful on the phone",
    "shoutout to the {b} folks for the quick refund",
    "the {b} update broke sync on my phone",
    "{b} is fine I guess, nothing special",
]
CLOSERS = [
    "",
    "",
    "Seriously.",
    "Thanks!",
    "Any ideas?",
    "#fail",
    "#loveit",
    "so frustrating",
    "10/10",
]


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_posts(n: int, now: int, seed: int = 11) -> list[dict[str, Any]]:
    from localserver import hn_hit

    rng = random.Random(seed)
    names = list(ENTITIES)
    out = []
    for i in range(1, n + 1):
        brand = rng.choices(names, weights=(60, 25, 15))[0]
        text = " ".join(
            p
            for p in (
                rng.choice(OPENERS),
                rng.choice(BODIES).format(b=brand),
                rng.choice(CLOSERS),
                f"(#{i})",
            )
            if p
        )
        out.append(hn_hit(i, now - rng.randint(60, 6 * 86400), text, author=f"user{i % 5000}"))
    return out


class FastAlgolia:
    """`search_by_date` over pre-sorted per-term indexes (the tests' fake scans everything)."""

    def __init__(self, hits: list[dict[str, Any]], cap: int = 1000, repeat: float = 0.02) -> None:
        self.cap, self.repeat = cap, repeat
        # Each hit serialised once: a page is then a join, so the worker's clock
        # measures our pipeline, not this fake server building JSON.
        self.encoded = {id(h): json.dumps(h) for h in hits}
        self.by_term: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        for terms in ENTITIES.values():
            for t in terms:
                sel = [h for h in hits if t in h["comment_text"].lower()]
                sel.sort(key=lambda h: h["created_at_i"])
                self.by_term[t] = ([h["created_at_i"] for h in sel], sel)

    def __call__(self, req: Any) -> Any:
        from localserver import Reply

        term = (req.arg("query") or "").strip('"').lower()
        keys, sel = self.by_term.get(term, ([], []))
        lo, hi = 0, 2**62
        for f in (req.arg("numericFilters") or "").split(","):
            m = re.match(r"created_at_i(>|<=)(\d+)", f.strip())
            if m and m.group(1) == ">":
                lo = int(m.group(2))
            elif m:
                hi = int(m.group(2))
        window = sel[bisect.bisect_right(keys, lo) : bisect.bisect_right(keys, hi)][::-1]
        per = int(req.arg("hitsPerPage") or 20)
        page = int(req.arg("page") or 0)
        reachable = window[: self.cap]
        hits = reachable[page * per : (page + 1) * per]
        if page > 0 and hits:  # a few repeats from the previous page: dedupe at work
            k = max(1, int(per * self.repeat))
            hits = reachable[page * per - k : page * per] + hits
        elif hits and len(window) > len(reachable):
            k = max(1, int(per * self.repeat))
            hits = hits + hits[:k]
        meta = {
            "nbHits": len(window),
            "page": page,
            "nbPages": -(-len(reachable) // per) if reachable else 0,
            "hitsPerPage": per,
        }
        body = '{"hits": [' + ", ".join(self.encoded[id(h)] for h in hits) + "], "
        body += json.dumps(meta)[1:]
        return Reply(200, body.encode(), {"Content-Type": "application/json"})


def airline_posts(now: int, limit: int) -> list[dict[str, Any]]:
    """Real airline customer tweets as Hacker News hits, keeping those the pipeline keeps
    (a brand or competitor term in the text), each text once, spread over six days."""
    from _data import airline_tweets
    from localserver import hn_hit

    from earful.pipeline import Pipeline

    matcher = Pipeline(settings_for(ENTITIES)).matcher
    rng = random.Random(11)
    texts = list(dict.fromkeys(r["text"] for r in airline_tweets()))
    texts = [t for t in texts if matcher.match(html.unescape(t))][:limit]
    return [
        hn_hit(i, now - rng.randint(60, 6 * 86400), html.escape(t), author=f"user{i % 5000}")
        for i, t in enumerate(texts, start=1)
    ]


def settings_for(entities: dict[str, list[str]]) -> Any:
    from earful.config import settings_from_dict

    brand, *rivals = entities
    return settings_from_dict(
        {
            "brand": {"name": brand, "terms": entities[brand]},
            "competitors": {k: entities[k] for k in rivals},
        }
    )


def write_config(path: Path, urls: list[str]) -> None:
    brand, *rivals = ENTITIES
    lines = ["[brand]", f"name = {json.dumps(brand)}", f"terms = {json.dumps(ENTITIES[brand])}"]
    lines += ["[competitors]"] + [f"{json.dumps(k)} = {json.dumps(ENTITIES[k])}" for k in rivals]
    for n, url in enumerate(urls):
        lines += [
            "[[sources]]",
            'platform = "hackernews"',
            f'name = "hn{n}"',
            f'base_url = "{url}"',
            "hits_per_page = 1000",
        ]
    path.write_text("\n".join(lines) + "\n")


def worker(config: str, db: str, source: str | None) -> None:
    """Child process: one `earful listen --once` run, timed from inside."""
    from earful.config import load_settings
    from earful.poller import listen
    from earful.store import Store

    settings = load_settings(config, environ={})
    store = Store(db)
    gc.freeze()  # as `earful listen` does before it starts polling
    t0 = time.perf_counter()
    listen(settings, store, once=True, only=source, out=progress)
    print(json.dumps({"elapsed": time.perf_counter() - t0}))


def run_workers(config: Path, db: str, sources: list[str | None], total: int) -> float:
    """Start one worker per source, report progress from the database, return the wall time."""
    import sqlalchemy as sa

    from earful.store import Store

    store = Store(db)
    store.upgrade()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(config), db, s or ""],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for s in sources
    ]
    t0 = time.perf_counter()
    while any(p.poll() is None for p in procs):
        time.sleep(1.0)
        with store.read() as c:
            n = c.scalar(sa.text("SELECT count(*) FROM mentions")) or 0
        el = time.perf_counter() - t0
        progress(f"  {n:>7,}/{total:,} stored  {el:5.1f}s")
    wall = time.perf_counter() - t0
    inner = []
    for p in procs:
        out = (p.stdout.read() if p.stdout else "").strip().splitlines()
        if p.returncode != 0 or not out:
            raise SystemExit(f"worker failed with exit code {p.returncode}")
        inner.append(json.loads(out[-1])["elapsed"])
    with store.read() as c:
        n = int(c.scalar(sa.text("SELECT count(*) FROM mentions")) or 0)
        rolled = int(c.scalar(sa.text("SELECT coalesce(sum(n), 0) FROM rollup_hourly")) or 0)
    store.engine.dispose()
    if n != total or rolled != total:
        raise SystemExit(f"stored {n} mentions and rolled up {rolled}; expected {total}")
    return max(inner) if inner else wall


def pg_database(server_url: str, name: str) -> str:
    """A fresh database `name` on the server (dropped and recreated); its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def vader_rate(texts: list[str], passes: int = 3) -> float:
    """VADER's best rate over a few passes: the machine's noise only ever slows a pass,
    so the best is the fairest floor (and makes the ratio, if anything, lower)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        for t in texts:
            sia.polarity_scores(t)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def server_pages(posts: list[dict[str, Any]], per: int = 1000) -> list[dict[str, Any]]:
    """The pages the fake server sends: term by term, newest first, `per` hits each."""
    pages = []
    for terms in ENTITIES.values():
        for t in terms:
            sel = [h for h in posts if t in h["comment_text"].lower()]
            sel.sort(key=lambda h: -h["created_at_i"])
            pages += [{"hits": sel[i : i + per]} for i in range(0, len(sel), per)]
    return pages


def stages(posts: list[dict[str, Any]], tmp: Path) -> dict[str, float]:
    """Microseconds per post for each stage, measured in this process on the server's pages.

    Indented lines are parts of the stage above them, measured separately
    (the scorer and classify on the same texts; SQLite's statement and commit
    time from the driver calls during the store stage).
    """
    from sqlalchemy import event

    from earful import intent
    from earful.pipeline import Pipeline
    from earful.poller import GROUP_ROWS
    from earful.sentiment import split_hashtag
    from earful.store import Store
    from earful.triage import classify
    from listeners._http import decode_json, text_matches
    from listeners.hackernews import parse

    settings = settings_for(ENTITIES)
    raw = [json.dumps(p).encode() for p in server_pages(posts)]
    gc.collect()
    gc.freeze()  # as the worker does; the pages held here would inflate later stages' GC
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    parsed = [decode_json(r) for r in raw]
    out["JSON decode"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    batches = [parse(p)[0] for p in parsed]
    out["parse (HTML to text, Mention)"] = time.perf_counter() - t0
    terms = [t for ts in ENTITIES.values() for t in ts]
    t0 = time.perf_counter()
    for b in batches:
        for m in b:
            text_matches(m.text, terms)
    out["listener's term check"] = time.perf_counter() - t0
    pipe = Pipeline(settings)
    t0 = time.perf_counter()
    enriched = [pipe.enrich_all(b)[0] for b in batches]
    out["enrich (clean, match, score, triage)"] = time.perf_counter() - t0
    texts = [m.text for b in enriched for m in b]
    # The parts again with their caches emptied: enrich above saw every text first.
    fresh = Pipeline(settings)
    split_hashtag.cache_clear()
    t0 = time.perf_counter()
    scores = fresh.scorer.score_many(texts)
    out["  Scorer (mask, language, tuned VADER)"] = time.perf_counter() - t0
    intent._reset_caches()
    t0 = time.perf_counter()
    for text, sc in zip(texts, scores, strict=True):
        classify(text, sc.compound, neg=sc.neg)
    out["  classify (intent, needs reply, priority)"] = time.perf_counter() - t0
    store = Store(f"sqlite:///{tmp / 'stages.db'}")
    store.upgrade()
    sql = [0.0]

    @event.listens_for(store.engine, "before_cursor_execute")
    def _before(conn: Any, *_a: Any) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(store.engine, "after_cursor_execute")
    def _after(conn: Any, *_a: Any) -> None:
        sql[0] += time.perf_counter() - conn.info.pop("t0")

    dialect = store.engine.dialect
    do_commit = dialect.do_commit

    def timed_commit(dbapi_conn: Any) -> None:
        t = time.perf_counter()
        do_commit(dbapi_conn)
        sql[0] += time.perf_counter() - t

    dialect.do_commit = timed_commit  # type: ignore[method-assign]
    flat = [m for b in enriched for m in b]
    gc.freeze()
    t0 = time.perf_counter()
    for n in range(0, len(flat), GROUP_ROWS):  # pages grouped per transaction, as the poller does
        store.save_page("bench", "q", flat[n : n + GROUP_ROWS], {"n": n})
    out["store (insert, rollup, queue, cursor)"] = time.perf_counter() - t0
    out["  SQLite executing statements and commits"] = sql[0]
    store.engine.dispose()
    return {k: v / len(posts) * 1e6 for k, v in out.items()}


# The stages no implementation of the pipeline can skip (see the ceiling in main).
CEILING_PARTS = ("Scorer", "classify", "SQLite")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument(
        "--db-dir", default=None, help="where the SQLite files go (default: a temp dir)"
    )
    ap.add_argument(
        "--pg",
        metavar="URL",
        default=os.environ.get("EARFUL_BENCH_PG_URL"),
        help="also run on PostgreSQL: a server URL whose user may CREATE DATABASE",
    )
    ap.add_argument(
        "--texts",
        choices=("templates", "airline"),
        default="templates",
        help="generated template posts (default) or the real airline tweets of the "
        "evaluation sets (about 14,000 distinct texts, read at run time)",
    )
    args = ap.parse_args()

    from localserver import LocalServer

    global ENTITIES
    now = int(time.time())
    if args.texts == "airline":
        ENTITIES = AIRLINES
        progress("reading the airline tweets (evaluation set)")
        posts = airline_posts(now, args.posts)
    else:
        progress(f"generating {args.posts:,} posts")
        posts = make_posts(args.posts, now)
    n = len(posts)
    texts = [p["comment_text"] for p in posts]
    tmp = Path(args.db_dir or tempfile.mkdtemp(prefix="earful-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)

    progress("VADER alone on the same texts (best of three passes)")
    vader = vader_rate(texts)

    progress("stage by stage, in this process")
    per_stage = stages(posts, tmp)

    def one_worker(db: str) -> tuple[float, int]:
        with LocalServer() as one:
            one.route("/api/v1/search_by_date", FastAlgolia(posts))
            cfg = tmp / "one.toml"
            write_config(cfg, [one.url])
            return run_workers(cfg, db, [None], n), len(one.requests)

    def two_workers(db: str) -> float:
        half = n // 2
        with LocalServer() as a, LocalServer() as b:
            a.route("/api/v1/search_by_date", FastAlgolia(posts[:half]))
            b.route("/api/v1/search_by_date", FastAlgolia(posts[half:]))
            cfg2 = tmp / "two.toml"
            write_config(cfg2, [a.url, b.url])
            return run_workers(cfg2, db, ["hn0", "hn1"], n)

    progress("one worker process, one source (SQLite)")
    t1, requests_one = one_worker(f"sqlite:///{tmp / 'one.db'}")
    progress("two worker processes, two sources, one SQLite database")
    t2 = two_workers(f"sqlite:///{tmp / 'two.db'}")
    pg: tuple[float, float] | None = None
    if args.pg:
        dbs = [pg_database(args.pg, f"earful_bench_{k}") for k in ("one", "two")]
        progress("one worker process (PostgreSQL)")
        p1, _ = one_worker(dbs[0])
        progress("two worker processes (PostgreSQL)")
        pg = (p1, two_workers(dbs[1]))

    one_rate = n / t1
    two_rate = n / t2
    print(
        f"posts: {n:,} {args.texts} texts ({requests_one} HTTP requests, 2% repeated hits deduped)"
    )
    print(f"VADER polarity_scores alone (best): {vader:10,.0f} posts/s")
    print(f"earful ingest, 1 worker (SQLite):   {one_rate:10,.0f} posts/s  ({t1:.1f} s)")
    print(f"ratio to VADER (aim >= 0.8):        {one_rate / vader:10.2f}")
    print(f"earful ingest, 2 workers (SQLite):  {two_rate:10,.0f} posts/s  ({t2:.1f} s)")
    print(f"scaling with a second worker:       {two_rate / one_rate:10.2f}x")
    if pg is not None:
        print(f"earful ingest, 1 worker (PostgreSQL):  {n / pg[0]:7,.0f} posts/s  ({pg[0]:.1f} s)")
        print(f"earful ingest, 2 workers (PostgreSQL): {n / pg[1]:7,.0f} posts/s  ({pg[1]:.1f} s)")
        print(f"scaling with a second worker (PostgreSQL): {pg[0] / pg[1]:6.2f}x")
    print(f"cores available: {os.cpu_count()}")
    print("where the time goes (microseconds per post, one process, same run):")
    print(f"  {'VADER polarity_scores alone':<44} {1e6 / vader:8.1f}")
    for name, us in per_stage.items():
        print(f"  {name:<44} {us:8.1f}")
    total = sum(us for name, us in per_stage.items() if not name.startswith(" "))
    print(f"  {'sum of the stages (no HTTP, no poller)':<44} {total:8.1f}")
    print(f"  {'1-worker run, per post (everything)':<44} {t1 / n * 1e6:8.1f}")
    # The ceiling the required work sets, whatever the rest of the Python costs:
    # scoring (the Scorer is VADER, exact, faster), classify (complaints VADER
    # alone calls positive) and SQLite's own time writing the rows, rollups and
    # queue the dashboard reads. The ratio cannot exceed VADER / their sum.
    floor = sum(per_stage[k] for k in per_stage if k.strip().startswith(CEILING_PARTS))
    print(
        f"ratio ceiling from scoring + classify + SQLite alone: {1e6 / vader / floor:6.2f}"
        f"  ({floor:.1f} us per post)"
    )


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4] or None)
    else:
        threading.current_thread().name = "bench"
        main()

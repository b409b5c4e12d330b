"""Plain VADER against Earful's triage on the shared benchmark sets.

Evaluation only: the data is read from ../shared/benchmarks (relative to the
repo) and never copied into the project. Prints one table; progress goes to
stderr. Run: `.venv/bin/python bench/triage.py`.

`classify` treats a post as aimed at a brand when the brand's own account is
named (`addressed`, which the pipeline knows from the configured handles).
The sets do not say which @handle is a brand's, so the main rows pass
`addressed=False` (text cues only; this understates recall on replies to
brand accounts). The "@ as addressed" rows count any @handle as addressed,
which overstates it for replies to people (the random tweets and replies).
Production sits between the two.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _data  # noqa: E402

from earful import intent  # noqa: E402
from earful.intent import classify  # noqa: E402
from earful.sentiment import Scorer, analyzer  # noqa: E402

BENCH = _data.benchmarks_dir()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- data (through the shared loaders in bench/_data.py) -----------------------


def load() -> dict[str, list]:
    """Each set as plain tuples: (text, gold...)."""
    return {
        "complaints": [(r["text"], r["complaint"]) for r in _data.complaints()],
        # Earful only ever sees posts that name a brand: the set's replies to brand accounts.
        "complaints_brand": [
            (r["text"], r["complaint"])
            for r in _data.complaints()
            if not r["domain"].startswith("random")
        ],
        "complaints_is_brand": [not r["domain"].startswith("random") for r in _data.complaints()],
        "airline": [(r["text"], r["label"], r["reason"]) for r in _data.airline_tweets()],
        "s140": [(r["text"], r["polarity"]) for r in _data.sentiment140()],
        "vader": [(r["text"], r["mean"]) for r in _data.vader_tweets()],
    }


# --- metrics ----------------------------------------------------------------


@dataclass
class PRF:
    precision: float
    recall: float
    f1: float


def prf(pred: Sequence[bool], gold: Sequence[bool]) -> PRF:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def vader_compound(text: str) -> float:
    return float(analyzer().polarity_scores(text)["compound"])


def rate(fn: Callable[[str], object], texts: Sequence[str], passes: int = 3) -> float:
    """Texts per CPU second for fn over texts (best of `passes`, so other load matters less)."""
    best = float("inf")
    for _ in range(passes):
        t0 = time.process_time()
        for t in texts:
            fn(t)
        best = min(best, time.process_time() - t0)
    return len(texts) / max(best, 1e-9)


def cost_rows(
    name: str, texts: Sequence[str], scores: Sequence[Any], vader_us: float
) -> tuple[str, str, str, str]:
    """classify's us per text and its ratio to VADER's: first sight (empty caches, one
    pass) | seen before (best of three passes over the same texts)."""
    intent._reset_caches()
    t0 = time.process_time()
    for t, s in zip(texts, scores, strict=True):
        classify(t, s.compound, neg=s.neg)
    cold = (time.process_time() - t0) / len(texts) * 1e6
    by_text = dict(zip(texts, scores, strict=True))
    warm = 1e6 / rate(lambda t: classify(t, by_text[t].compound, neg=by_text[t].neg), texts)
    return (
        f"classify us per text, first sight | seen ({name}); / VADER",
        f"{cold:.1f} | {warm:.1f}",
        f"{cold / vader_us:.2f} | {warm / vader_us:.2f}",
        "<= 6 us",
    )


def ingest_texts(n: int) -> list[str]:
    """bench/ingest.py's generated posts (generic templates, no evaluation data)."""
    from ingest import make_posts

    return [p["comment_text"] for p in make_posts(n, int(time.time()))]


def at_row(name: str, m: PRF) -> tuple[str, str, str, str]:
    """A row for the "@ as addressed" variant: precision and recall in the name, F1 as value."""
    return (f"{name} (P {m.precision:.2f}, R {m.recall:.2f}): F1", "", f"{m.f1:.3f}", "")


# --- run ----------------------------------------------------------------------


def main() -> int:
    if not BENCH.is_dir():
        log(f"benchmarks not found at {BENCH}")
        return 1
    data = load()
    scorer = Scorer()
    rows: list[tuple[str, str, str, str]] = []  # metric, VADER, Earful, aim

    def earful(text: str, at_addressed: bool = False) -> tuple[str, str, bool]:
        s = scorer.score(text)
        t = classify(text, s.compound, neg=s.neg, addressed=at_addressed and "@" in text)
        return t.intent, s.label, t.needs_reply

    # Complaints set.
    comp = data["complaints"]
    log(f"complaints: {len(comp)} texts")
    gold = [g for _, g in comp]
    v_pred = [vader_compound(t) <= -0.05 for t, _ in comp]
    e_pred = [earful(t)[0] == "complaint" for t, _ in comp]
    v, e = prf(v_pred, gold), prf(e_pred, gold)
    rows += [
        ("complaints: precision", f"{v.precision:.3f}", f"{e.precision:.3f}", ""),
        ("complaints: recall", f"{v.recall:.3f}", f"{e.recall:.3f}", ""),
        ("complaints: F1", f"{v.f1:.3f}", f"{e.f1:.3f}", ">= 0.80"),
    ]
    e_at = [earful(t, True)[0] == "complaint" for t, _ in comp]
    a = prf(e_at, gold)
    rows.append(at_row("  @ as addressed", a))
    # The set's tweets not addressed to brands are all non-complaints: how often they are flagged.
    other = [i for i, is_brand in enumerate(data["complaints_is_brand"]) if not is_brand]
    rows.append(
        (
            f"  non-brand tweets flagged (n={len(other)}; @ as addressed: "
            f"{sum(e_at[i] for i in other) / len(other):.3f})",
            f"{sum(v_pred[i] for i in other) / len(other):.3f}",
            f"{sum(e_pred[i] for i in other) / len(other):.3f}",
            "",
        )
    )
    brand = data["complaints_brand"]
    gold = [g for _, g in brand]
    v = prf([vader_compound(t) <= -0.05 for t, _ in brand], gold)
    e = prf([earful(t)[0] == "complaint" for t, _ in brand], gold)
    a = prf([earful(t, True)[0] == "complaint" for t, _ in brand], gold)
    rows += [
        (
            f"  replies to brands only (n={len(brand)}): P / R",
            f"{v.precision:.2f}/{v.recall:.2f}",
            f"{e.precision:.2f}/{e.recall:.2f}",
            "",
        ),
        ("  replies to brands only: F1", f"{v.f1:.3f}", f"{e.f1:.3f}", ""),
        at_row("  replies to brands, @ as addressed", a),
    ]

    # Airline tweets: negative = complaint intent or negative label.
    air = data["airline"]
    log(f"airline: {len(air)} texts")
    gold = [s == "negative" for _, s, _ in air]
    v_pred = [vader_compound(t) <= -0.05 for t, _, _ in air]
    e_out = [earful(t) for t, _, _ in air]
    e_pred = [i == "complaint" or lab == "negative" for i, lab, _ in e_out]
    v, e = prf(v_pred, gold), prf(e_pred, gold)
    a_out = [earful(t, True) for t, _, _ in air]
    a = prf([i == "complaint" or lab == "negative" for i, lab, _ in a_out], gold)
    rows += [
        ("airline negative: precision", f"{v.precision:.3f}", f"{e.precision:.3f}", ">= 0.85"),
        ("airline negative: recall", f"{v.recall:.3f}", f"{e.recall:.3f}", ">= 0.80"),
        ("airline negative: F1", f"{v.f1:.3f}", f"{e.f1:.3f}", ""),
        at_row("  @ as addressed", a),
    ]
    reasons = Counter(r for _, s, r in air if s == "negative")
    for reason, n in reasons.most_common():
        idx = [i for i, (_, s, r) in enumerate(air) if s == "negative" and r == reason]
        vr = sum(v_pred[i] for i in idx) / n
        er = sum(e_pred[i] for i in idx) / n
        rows.append((f"  recall, {reason or '(none)'} (n={n})", f"{vr:.3f}", f"{er:.3f}", ""))
    pos_idx = [i for i, (_, s, _) in enumerate(air) if s != "negative"]
    needs = sum(e_out[i][2] for i in pos_idx) / max(len(pos_idx), 1)
    rows.append(("airline non-negative flagged needs_reply", "", f"{needs:.3f}", ""))

    # Sentiment140: binary accuracy on polarity 0/4 and 3-way accuracy.
    s140 = data["s140"]
    log(f"sentiment140: {len(s140)} texts")
    binary = [(t, p) for t, p in s140 if p in (0, 4)]
    v_acc = sum((vader_compound(t) >= 0) == (p == 4) for t, p in binary) / len(binary)
    e_acc = sum(((scorer.score(t).compound or 0.0) >= 0) == (p == 4) for t, p in binary) / len(
        binary
    )
    rows.append(
        (
            f"sentiment140 binary accuracy (n={len(binary)})",
            f"{v_acc:.3f}",
            f"{e_acc:.3f}",
            "no loss",
        )
    )

    def three(c: float) -> int:
        return 4 if c >= 0.05 else 0 if c <= -0.05 else 2

    v3 = sum(three(vader_compound(t)) == p for t, p in s140) / len(s140)
    e3 = sum(three(scorer.score(t).compound or 0.0) == p for t, p in s140) / len(s140)
    rows.append(
        (f"sentiment140 3-way accuracy (n={len(s140)})", f"{v3:.3f}", f"{e3:.3f}", "no loss")
    )

    # VADER's own tweets: Pearson r against the human mean rating.
    vt = data["vader"]
    log(f"vader tweets: {len(vt)} texts")
    ratings = [r for _, r in vt]
    vr = pearson([vader_compound(t) for t, _ in vt], ratings)
    er = pearson([scorer.score(t).compound or 0.0 for t, _ in vt], ratings)
    rows.append((f"VADER tweets Pearson r (n={len(vt)})", f"{vr:.3f}", f"{er:.3f}", "no loss"))

    # Throughput on the airline texts, in CPU time (best of three passes).
    log("throughput")
    texts = [t for t, _, _ in air]
    v_tps = rate(vader_compound, texts)
    s_tps = rate(scorer.score, texts)
    sents = {t: scorer.score(t) for t in texts}
    e_tps = rate(lambda t: classify(t, (s := scorer.score(t)).compound, neg=s.neg), texts)
    c_tps = rate(lambda t: classify(t, sents[t].compound, neg=sents[t].neg), texts)
    rows += [
        ("throughput, texts/s: plain VADER | Earful Scorer", f"{v_tps:,.0f}", f"{s_tps:,.0f}", ""),
        ("throughput, texts/s: Earful Scorer + classify", "", f"{e_tps:,.0f}", ""),
        ("throughput, texts/s: classify alone", "", f"{c_tps:,.0f}", "> VADER"),
    ]
    # classify's cost next to plain VADER's, both measured here on the same texts. It
    # caches per whitespace chunk and per set of fired signals, so a text seen before
    # costs less than one seen for the first time (caches emptied first).
    us = 1e6 / v_tps
    rows += [
        ("plain VADER, us per text (airline)", f"{us:.1f}", "", ""),
        cost_rows("airline", texts, [sents[t] for t in texts], us),
    ]
    ingest = ingest_texts(20_000)
    log(f"ingest bench texts: {len(ingest)}")
    ingest_scores = [scorer.score(t) for t in ingest]
    vi = 1e6 / rate(vader_compound, ingest)
    rows += [
        ("plain VADER, us per text (ingest bench)", f"{vi:.1f}", "", ""),
        cost_rows("ingest bench", ingest, ingest_scores, vi),
    ]

    w = max(len(r[0]) for r in rows)
    print(f"{'metric':<{w}}  {'VADER':>8}  {'Earful':>8}  aim")
    print("-" * (w + 30))
    for name, a, b, aim in rows:
        print(f"{name:<{w}}  {a:>8}  {b:>8}  {aim}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

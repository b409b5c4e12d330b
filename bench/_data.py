"""Loaders for the shared evaluation sets (evaluation only, never shipped).

The data lives outside the repository, in ``../shared/benchmarks`` next to the
checkout; set ``EARFUL_BENCHMARKS`` to point elsewhere. Each loader reads one
file with a real CSV parser, as that set's SOURCE.md asks, and returns a plain
list of dicts. Nothing here copies, caches or derives anything from the text.

Usable from a bench script run as ``python bench/x.py`` (``from _data import
...``) and as ``bench._data`` from the repository root.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

Record = dict[str, Any]

AIRLINE_LABELS = ("negative", "neutral", "positive")
SENTIMENT140_LABELS = {"0": "negative", "2": "neutral", "4": "positive"}


def benchmarks_dir() -> Path:
    """Where the shared benchmark sets are: ``$EARFUL_BENCHMARKS`` or ``../shared/benchmarks``."""
    env = os.environ.get("EARFUL_BENCHMARKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def _path(*parts: str) -> Path:
    path = benchmarks_dir().joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"benchmark file not found: {path} (set EARFUL_BENCHMARKS to the benchmarks folder)"
        )
    return path


def airline_tweets() -> list[Record]:
    """Twitter US Airline Sentiment, 14,640 rows.

    Keys: ``id`` (str), ``label`` (negative/neutral/positive), ``confidence``
    (float), ``reason`` (negativereason, "" if none), ``airline`` (e.g.
    "Virgin America"), ``text``, ``created`` (str as in the file).
    """
    with _path("airline_tweets", "Tweets.csv").open(encoding="utf-8", newline="") as f:
        return [
            {
                "id": row["tweet_id"],
                "label": row["airline_sentiment"],
                "confidence": float(row["airline_sentiment_confidence"] or 0.0),
                "reason": row["negativereason"],
                "airline": row["airline"],
                "text": row["text"],
                "created": row["tweet_created"],
            }
            for row in csv.DictReader(f)
        ]


def complaints() -> list[Record]:
    """Complaints in social media (ACL 2019), 3,449 rows.

    Keys: ``id`` (str), ``text``, ``complaint`` (bool), ``domain`` (e.g.
    "transport", "random_tweet").
    """
    with _path("complaints", "complaints-data.csv").open(encoding="utf-8", newline="") as f:
        return [
            {"id": tid, "text": text, "complaint": label.strip() == "1", "domain": domain}
            for tid, text, label, domain in csv.reader(f)
        ]


def sentiment140() -> list[Record]:
    """Sentiment140 hand-labelled test set, 498 rows (359 positive/negative).

    Keys: ``polarity`` (0, 2 or 4), ``label`` (negative/neutral/positive),
    ``id``, ``date``, ``query`` (the search term), ``user``, ``text``.
    """
    path = _path("sentiment140_test", "testdata.manual.2009.06.14.csv")
    with path.open(encoding="utf-8", newline="") as f:
        return [
            {
                "polarity": int(pol),
                "label": SENTIMENT140_LABELS[pol],
                "id": tid,
                "date": date,
                "query": query,
                "user": user,
                "text": text,
            }
            for pol, tid, date, query, user, text in csv.reader(f)
        ]


def _vader_file(name: str) -> list[Record]:
    with _path("vader_groundtruth", name).open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            {"id": row[0], "mean": float(row[1]), "text": "\t".join(row[2:])}
            for row in reader
            if row
        ]


def vader_tweets() -> list[Record]:
    """VADER human-rated tweets, 4,200 rows. Keys: ``id``, ``mean`` (-4..+4), ``text``."""
    return _vader_file("tweets_GroundTruth.txt")


def vader_snippets(kind: str) -> list[Record]:
    """Other VADER ground-truth sets: ``kind`` is "amazon", "movie" or "nyt"."""
    names = {
        "amazon": "amazonReviewSnippets_GroundTruth.txt",
        "movie": "movieReviewSnippets_GroundTruth.txt",
        "nyt": "nytEditorialSnippets_GroundTruth.txt",
    }
    return _vader_file(names[kind])


if __name__ == "__main__":
    for name, rows in (
        ("airline_tweets", airline_tweets()),
        ("complaints", complaints()),
        ("sentiment140", sentiment140()),
        ("vader_tweets", vader_tweets()),
    ):
        print(f"{name}: {len(rows)} rows; keys {sorted(rows[0])}")

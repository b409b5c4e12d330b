"""VADER, built once per process, with brand-aware preprocessing.

Placeholder interface: the full implementation (masking handles, URLs, brand
and competitor terms, hashtag splitting, language detection) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@dataclass(frozen=True, slots=True)
class Sentiment:
    compound: float | None
    label: str
    lang: str | None


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """The one VADER analyzer of this process."""
    return SentimentIntensityAnalyzer()


def label_for(compound: float) -> str:
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


class Scorer:
    """Scores texts after masking the configured terms and handles."""

    def __init__(self, terms: Iterable[str] = (), handles: Iterable[str] = ()) -> None:
        self.terms = tuple(terms)
        self.handles = tuple(handles)

    def prepare(self, text: str) -> str:
        return text

    def score(self, text: str, lang: str | None = None) -> Sentiment:
        compound = analyzer().polarity_scores(self.prepare(text))["compound"]
        return Sentiment(compound, label_for(compound), lang or "en")

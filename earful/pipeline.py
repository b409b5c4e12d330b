"""From a listener's raw mention to a stored one: match, clean, score, triage.

One `Pipeline` per process (it holds the compiled matcher and the scorer).
Mentions that match no brand or competitor term, or match an exclude, are
dropped here so every listener applies the same rules.

`enrich_all` is the poller's path: it cleans and matches the whole page
first, scores the kept texts with `Scorer.score_many`, then triages. Text
that `clean_text` would return unchanged (almost all of it) skips it, and the
enriched copy is built in one constructor call, not `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Iterable
from typing import Any

from earful.config import Settings
from earful.matching import Matcher
from earful.models import Mention, new_mention
from earful.sentiment import Scorer, Sentiment
from earful.text import MAX_CHARS, clean_text
from earful.triage import Triage, classify

# Anything `clean_text` would change: C0 controls (CR included), tabs, no-break
# spaces, runs of spaces, three newlines, lone surrogates. Checked together with
# the ends (strip) and the length cap in `_clean`; tests compare with clean_text.
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\t\xa0\ud800-\udfff]|  |\n\n\n")

# Mention's fields in order, read in one C call; the pipeline's outputs by position.
_FIELDS = tuple(f.name for f in dataclasses.fields(Mention))
_ALL_FIELDS = operator.attrgetter(*_FIELDS)
_SOURCE = _FIELDS.index("source")
_OUT = tuple(
    _FIELDS.index(name)
    for name in (
        "text",
        "matched",
        "compound",
        "label",
        "lang",
        "intent",
        "needs_reply",
        "reason",
        "priority",
    )
)


def _clean(text: str) -> str:
    """`clean_text(text)`, without its five passes when they would change nothing."""
    if (
        text
        and len(text) <= MAX_CHARS
        and not text[0].isspace()
        and not text[-1].isspace()
        and _NEEDS_CLEANING.search(text) is None
    ):
        return text
    return clean_text(text)


def _enriched(
    m: Mention, text: str, matched: str, s: Sentiment, t: Triage, source: str | None = None
) -> Mention:
    """`dataclasses.replace(m, ...)` with the pipeline's fields (and `source` when the
    mention has none), in one constructor call."""
    values: list[Any] = list(_ALL_FIELDS(m))
    if source and not m.source:
        values[_SOURCE] = source
    for i, v in zip(
        _OUT,
        (text, matched, s.compound, s.label, s.lang, t.intent, t.needs_reply, t.reason, t.priority),
        strict=True,
    ):
        values[i] = v
    return new_mention(*values)


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.brand = settings.brand.name
        self.matcher = Matcher.from_settings(settings)
        self.handles = tuple(h.lower() for h in settings.brand.handles)
        self.scorer = Scorer(terms=list(self.matcher.all_terms()), handles=settings.brand.handles)

    def addressed_to_brand(self, m: Mention) -> bool:
        if not self.handles:
            return False
        low = m.text.lower()
        return any(h in low for h in self.handles)

    def enrich(self, m: Mention, source: str | None = None) -> Mention | None:
        """The mention with text cleaned and matched/sentiment/triage filled, or None to drop.

        `source` tags a mention whose listener left its source empty."""
        text = _clean(m.text)
        matched = self.matcher.match(text)
        if matched is None:
            return None
        return self._finish(m, text, matched, self.scorer.score(text, m.lang), source)

    def _finish(
        self, m: Mention, text: str, matched: str, s: Sentiment, source: str | None = None
    ) -> Mention:
        """Triage a cleaned, matched and scored mention; the enriched copy."""
        t = classify(
            text,
            s.compound,
            neg=s.neg,
            addressed=self.addressed_to_brand(m),
            followers=m.author_followers,
            created_at=m.created_at,
            now=m.fetched_at,  # the poll's clock; recency is neutral when unknown
        )
        if t.needs_reply and matched != self.brand:
            # A competitor's unhappy customer is a marketing signal, not our support ticket:
            # keep the intent (the Mentions page filters on it) but keep it out of the queue.
            t = Triage(
                t.intent,
                False,
                f"{t.reason} (about {matched}, a competitor: not queued)",
                t.priority,
            )
        return _enriched(m, text, matched, s, t, source)

    def score_text(self, text: str) -> dict[str, object]:
        """What `earful score` prints for one line: sentiment plus triage, no matching required."""
        text = clean_text(text)
        s = self.scorer.score(text)
        low = text.lower()
        t = classify(text, s.compound, neg=s.neg, addressed=any(h in low for h in self.handles))
        return {
            "text": text,
            "compound": s.compound,
            "label": s.label,
            "lang": s.lang,
            "matched": self.matcher.match(text),
            "intent": t.intent,
            "needs_reply": t.needs_reply,
            "reason": t.reason,
            "priority": round(t.priority, 1),
        }

    def enrich_all(
        self, batch: Iterable[Mention], source: str | None = None
    ) -> tuple[list[Mention], int]:
        """Enriched mentions and how many were dropped as off-topic or excluded.

        Same results as `enrich` on each mention; the texts are scored together.
        """
        match = self.matcher.match
        todo: list[tuple[Mention, str, str]] = []
        seen = 0
        for m in batch:
            seen += 1
            text = _clean(m.text)
            matched = match(text)
            if matched is not None:
                todo.append((m, text, matched))
        scores = self.scorer.score_many([t for _, t, _ in todo], [m.lang for m, _, _ in todo])
        finish = self._finish
        kept = [
            finish(m, text, matched, s, source)
            for (m, text, matched), s in zip(todo, scores, strict=True)
        ]
        return kept, seen - len(kept)

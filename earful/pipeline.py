"""From a listener's raw mention to a stored one: match, clean, score, triage.

One `Pipeline` per process (it holds the compiled matcher and the scorer).
Mentions that match no brand or competitor term, or match an exclude, are
dropped here so every listener applies the same rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from earful.config import Settings
from earful.matching import Matcher
from earful.models import Mention
from earful.sentiment import Scorer
from earful.text import clean_text
from earful.triage import classify


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.matcher = Matcher.from_settings(settings)
        self.handles = tuple(h.lower() for h in settings.brand.handles)
        self.scorer = Scorer(terms=list(self.matcher.all_terms()), handles=settings.brand.handles)

    def addressed_to_brand(self, m: Mention) -> bool:
        low = m.text.lower()
        return any(h in low for h in self.handles)

    def enrich(self, m: Mention) -> Mention | None:
        """The mention with text cleaned and matched/sentiment/triage filled, or None to drop."""
        text = clean_text(m.text)
        matched = self.matcher.match(text)
        if matched is None:
            return None
        s = self.scorer.score(text, m.lang)
        t = classify(
            text,
            s.compound,
            addressed=self.addressed_to_brand(m),
            followers=m.author_followers,
            created_at=m.created_at,
            now=m.fetched_at,  # the poll's clock; recency is neutral when unknown
        )
        return dataclasses.replace(
            m,
            text=text,
            matched=matched,
            compound=s.compound,
            label=s.label,
            lang=s.lang,
            intent=t.intent,
            needs_reply=t.needs_reply,
            reason=t.reason,
            priority=t.priority,
        )

    def score_text(self, text: str) -> dict[str, object]:
        """What `earful score` prints for one line: sentiment plus triage, no matching required."""
        text = clean_text(text)
        s = self.scorer.score(text)
        low = text.lower()
        t = classify(text, s.compound, addressed=any(h in low for h in self.handles))
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

    def enrich_all(self, batch: Iterable[Mention]) -> tuple[list[Mention], int]:
        """Enriched mentions and how many were dropped as off-topic or excluded."""
        kept: list[Mention] = []
        dropped = 0
        for m in batch:
            e = self.enrich(m)
            if e is None:
                dropped += 1
            else:
                kept.append(e)
        return kept, dropped

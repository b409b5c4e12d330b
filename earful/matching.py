"""Which brand or competitor a text mentions, honouring exact phrases and excludes.

Terms are case-insensitive. A plain term (`acme`) matches as a whole word,
also inside handles and hashtags (`@acme`, `#acme`, `acme.bsky.social`); a
quoted term (`"acme cloud"`) matches that exact phrase. A text containing any
`exclude` phrase is dropped. The brand wins over competitors when both appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from earful.config import split_terms


def _term_pattern(term: str, exact: bool) -> str:
    words = [re.escape(w) for w in term.lower().split()]
    body = r"\s+".join(words)
    if not exact and term.startswith("@"):
        return rf"(?<![\w@]){body}(?!\w)"
    return rf"(?<![\w]){body}(?![\w])" if exact else rf"(?<![^\W_]){body}(?![^\W_])"


@dataclass(frozen=True)
class Matcher:
    """Compiled brand/competitor terms; `match(text)` -> entity name or None."""

    entities: tuple[tuple[str, tuple[str, ...]], ...]
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: object) -> Matcher:
        ents: Mapping[str, list[str]] = settings.entities()  # type: ignore[attr-defined]
        brand = settings.brand  # type: ignore[attr-defined]
        return cls(
            tuple((k, tuple(v)) for k, v in ents.items()),
            tuple(brand.exclude),
        )

    @cached_property
    def _compiled(self) -> list[tuple[str, re.Pattern[str]]]:
        out = []
        for name, terms in self.entities:
            parts = [_term_pattern(t, exact) for t, exact in split_terms(list(terms))]
            if parts:
                out.append((name, re.compile("|".join(parts), re.IGNORECASE)))
        return out

    @cached_property
    def _exclude(self) -> re.Pattern[str] | None:
        if not self.exclude:
            return None
        return re.compile("|".join(re.escape(e.lower()) for e in self.exclude), re.IGNORECASE)

    def match(self, text: str) -> str | None:
        """The first entity (brand first) whose terms occur in `text`, unless excluded."""
        if self._exclude is not None and self._exclude.search(text):
            return None
        for name, pat in self._compiled:
            if pat.search(text):
                return name
        return None

    def matches_any(self, text: str) -> bool:
        return self.match(text) is not None

    def all_terms(self) -> Iterable[str]:
        for _, terms in self.entities:
            for t, _exact in split_terms(list(terms)):
                yield t

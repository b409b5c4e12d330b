"""Which brand or competitor a text mentions, honouring exact phrases and excludes.

Terms are case-insensitive. A plain term (`acme`) matches as a whole word,
also inside handles and hashtags (`@acme`, `#acme`, `acme.bsky.social`); a
quoted term (`"acme cloud"`) matches that exact phrase. A text containing any
`exclude` phrase is dropped. The brand wins over competitors when both appear.
Each entity's terms are one `TermSearch`: the lower-cased text is computed once
per `match` and shared by the exclude check and every entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from earful.config import split_terms
from earful.text import TermSearch, folded


def _term_part(term: str, exact: bool) -> tuple[str, list[str], str]:
    """(class that must not precede it, words, lookahead) of one term, for `TermSearch`."""
    words = term.lower().split()
    if not exact and term.startswith("@"):
        return r"[\w@]", words, r"(?!\w)"
    return (r"[\w]", words, r"(?![\w])") if exact else (r"[^\W_]", words, r"(?![^\W_])")


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
    def _compiled(self) -> list[tuple[str, TermSearch]]:
        out = []
        for name, terms in self.entities:
            parts = [_term_part(t, exact) for t, exact in split_terms(list(terms))]
            if parts:
                out.append((name, TermSearch(parts)))
        return out

    @cached_property
    def _exclude(self) -> TermSearch | None:
        if not self.exclude:
            return None
        return TermSearch([("", [e.lower()], "") for e in self.exclude])  # plain substrings

    def match(self, text: str) -> str | None:
        """The first entity (brand first) whose terms occur in `text`, unless excluded."""
        low = folded(text)
        if self._exclude is not None and self._exclude.search_folded(text, low):
            return None
        for name, terms in self._compiled:
            if terms.search_folded(text, low):
                return name
        return None

    def matches_any(self, text: str) -> bool:
        return self.match(text) is not None

    def all_terms(self) -> Iterable[str]:
        for _, terms in self.entities:
            for t, _exact in split_terms(list(terms)):
                yield t

"""Text hygiene shared by listeners and the pipeline.

Post text is stored as plain text that any database accepts: NUL and other C0
control characters (except tab and newline) are removed, lone surrogates are
replaced, and bodies are capped at `MAX_CHARS`. Bidi marks are kept in the
store (they are part of what was said) and neutralised only for display.

`TermSearch` is the whole-word, case-insensitive term search that listeners
(their post filter) and the matcher share, built for a cheap yes/no per post.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

MAX_CHARS = 200_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_NEWLINES = re.compile(r"\n{3,}")
# Bidi embedding/override/isolate controls: shown inert by `display_safe`.
BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def clean_text(text: str | None) -> str:
    """Plain, storable text: no control characters, no lone surrogates, trimmed whitespace."""
    if not text:
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n\n", text)
    return text.strip()[:MAX_CHARS]


def unescape(text: str | None) -> str:
    """HTML entities -> characters (for APIs that send escaped plain text)."""
    return html.unescape(text or "")


def display_safe(text: str | None, limit: int | None = None) -> str:
    """Text for the UI: bidi controls removed so a stranger cannot reorder what we show."""
    out = BIDI.sub("", text or "")
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


class TermSearch:
    """Does a text contain one of some terms, each with guards on what may surround it?

    Built from `(before, words, after)` parts: `before` is a character class that
    must not precede the term (e.g. `[^\\W_]`; "" for none), `words` are literal
    words with whitespace between them and `after` is a zero-width guard (e.g.
    `(?![^\\W_])`). Guards are character classes, so case does not change them.
    `search(text)` is exactly
    `re.compile("|".join("(?<!" + before + ")" + r"\\s+".join(map(re.escape, words))
    + after), re.I).search(text) is not None` (that compiled pattern is `.pattern`),
    only faster. With every branch opening on a lookbehind and case ignored, sre
    runs the whole pattern at every position. For ASCII text and ASCII words,
    ignoring case is lower-casing both sides; and `(?<!B)c`, "c not preceded by
    B", is `c(?<!Bc)`, which opens on a literal: so the lower-cased text is
    searched with branches that open on their first letter, and sre jumps
    straight to the places where a term could start.
    """

    __slots__ = ("pattern", "_scan")

    def __init__(self, parts: Iterable[tuple[str, Sequence[str], str]]) -> None:
        full: list[str] = []
        scan: list[str] | None = []  # None once a term is not plain ASCII words
        for before, words, after in parts:
            body = r"\s+".join(re.escape(w) for w in words)
            full.append((f"(?<!{before})" if before else "") + body + after)
            if scan is not None and words and all(w and w.isascii() for w in words):
                low = r"\s+".join(re.escape(w.lower()) for w in words)
                first = re.escape(words[0][0].lower())  # low opens with exactly this
                guard = f"(?<!{before}{first})" if before else ""
                scan.append(first + guard + low[len(first) :] + after)
            else:
                scan = None
        self.pattern = re.compile("|".join(full), re.IGNORECASE)
        self._scan = re.compile("|".join(scan)) if scan else None

    def search(self, text: str) -> bool:
        """True when some term occurs in `text`, guards included."""
        if self._scan is None or not text.isascii():
            return self.pattern.search(text) is not None
        return self._scan.search(text.lower()) is not None

    def search_folded(self, text: str, low: str | None) -> bool:
        """`search(text)` given `low = folded(text)`, for callers that search a text twice."""
        if self._scan is None or low is None:
            return self.pattern.search(text) is not None
        return self._scan.search(low) is not None


def folded(text: str) -> str | None:
    """`text.lower()` when `text` is ASCII (what `TermSearch.search_folded` takes), else None."""
    return text.lower() if text.isascii() else None

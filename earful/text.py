"""Text hygiene shared by listeners and the pipeline.

Post text is stored as plain text that any database accepts: NUL and other C0
control characters (except tab and newline) are removed, lone surrogates are
replaced, and bodies are capped at `MAX_CHARS`. Bidi marks are kept in the
store (they are part of what was said) and neutralised only for display.
"""

from __future__ import annotations

import html
import re

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

"""What a signal is and how one is built: the `Signal` type and `_sig`.

Part of `earful.intent`. `_sig` compiles a hand-written regex over the
normalised text into a `Signal`: its single-word alternatives become set
lookups (`words`, `prefixes`), the rest stays a regex guarded by prefilter keys
(hand-written, or read off the pattern by `earful.intent_regex`), and an
opening \\b becomes a space for the spaced text.

The cut is here because this is the compilation, the same for every entry:
the table itself (the data) is in `earful.intent_failures` and
`earful.intent_signals`, which import this module; `Signal` is re-exported
from both `earful.intent_signals` and `earful.intent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from earful.intent_regex import _auto_keys, _key, _spaced, _words_out


@dataclass(frozen=True, slots=True)
class Signal:
    # complaint evidence: wait | problem | nohelp | sarcasm | emotion (a mood, gated);
    # other: help | question | praise | target (what a complaint is aimed at, weight 0)
    kind: str
    label: str  # what the reason says; "{m}" is replaced by the matched words
    weight: float
    pattern: re.Pattern[str]
    # Cheap prefilter: the regex runs only when a token of the text starts with
    # one of these keys (every match of the pattern holds such a token).
    keys: frozenset[str] = frozenset()
    # Single-word alternatives, taken out of the regex: exact tokens and prefixes.
    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    # The whole pattern as written, for checking that the fast path finds the same.
    source: str = ""
    # A second prefilter: when set, one of these keys must also occur.
    also: frozenset[str] = frozenset()


def _sig(
    kind: str, label: str, weight: float, pattern: str, keys: str = "", also: str = ""
) -> Signal:
    words, prefixes, rest = _words_out(pattern)
    keyset = frozenset(_key(k) for k in keys.split("|") if k)
    if words or prefixes:
        keyset = (_auto_keys(rest) if rest else frozenset()) or keyset
    compiled = re.compile(_spaced(rest) if rest else "(?!)")
    also_keys = frozenset(_key(k) for k in also.split("|") if k)
    return Signal(
        kind,
        label,
        weight,
        compiled,
        keyset,
        frozenset(words),
        tuple(prefixes),
        _spaced(pattern),
        also_keys,
    )

"""Which signals fire on a text, fast: tokens, caches, the scan and its plans.

Part of `earful.intent`. `signals(text)` finds exactly what the plain method
finds (every regex whose keys occur, run on the normalised text; the
reference kept in tests/test_intent.py), through per-chunk bits and the
conditions `earful.intent_regex` reads off each regex. `_CHUNKS`,
`_TOKEN_BITS`, `_PLANS` and `_TODO` are caches capped at `_CACHE_SIZE` entries
each; all but the small `_TODO` hold ints and strings only, so the cyclic GC
has nothing in them to walk.

The cut is here because the bit layout is built once at import from those
conditions and never changes (`earful.intent_bits`, with `_token_bits`); this
module keeps what runs per text and every cache bounded by `_CACHE_SIZE`
(which tests lower here), so `_reset_caches` empties them all in one place.
"""

from __future__ import annotations

import operator
import re
from functools import reduce

from earful.intent_bits import (
    _ALWAYS,
    _CONDS,
    _DOTBANG_,
    _EXACT_CONDS,
    _F,
    _F_EMPTY,
    _F_LEAD,
    _F_LEAD_EMPTY,
    _F_MIXED,
    _F_SHOUT,
    _FIRST_ONLY,
    _GUARD,
    _GUARD_OF,
    _GUARDS,
    _M_GUARDS,
    _NEG_ALL_,
    _NO_ALSO,
    _NOT_FIRST_ONLY,
    _ONES,
    _PAIR_,
    _QFIRST_,
    _QMARK_,
    _QSIG,
    _REGION,
    _RUNNABLE,
    _SHOUT_,
    _Y,
    _YOU_,
    _Z,
    _token_bits,
)
from earful.intent_signals import (
    _LATER_QUESTION,
    _Q_PAIRS,
    _SHOUT,
    NEGATION,
    QUESTION_FORM,
    SHOUTING,
    SIGNALS,
    TO_YOU,
    Signal,
)

_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`']")
_SPACED_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,:]\d+)*|[#@]\w+|<3|:-?\)|\S")


def _tokens(text: str) -> list[str]:
    """Lowercase tokens: words, numbers, #tags/@handles, a few emoticons, single punctuation."""
    low = text.lower()
    if "'" in low or "\u2019" in low:
        low = _APOSTROPHES.sub("", low)
    tokens = _SPACED_TOKEN.findall(low)
    start = 0
    while start < len(tokens) and tokens[start][0] in "@.:,":
        start += 1
    return tokens[start:] if start else tokens


def normalise(text: str) -> str:
    """Lowercase, apostrophes dropped ("can't" -> "cant"), leading @handles removed,
    and one space around every word and punctuation mark (" where is my bag ? ")."""
    return " " + " ".join(_tokens(text)) + " "


# --- How signals() stays cheap ----------------------------------------------------
#
# What fires is defined by the plain method: tokenise, look the single-word cues up,
# and run each phrase regex whose keys (and `also` keys) occur in the text
# (tests/test_intent.py keeps it as the reference the fast path is checked against).
# Three things make that cheap without changing what it finds:
#
# 1. Bits per chunk. No token spans whitespace, so the raw text is split at
#    whitespace and each distinct chunk is tokenised once and cached with one
#    integer of bits (which signals its words and prefixes fire, which keys occur,
#    "you", negations, ...). A text's bits are the OR of its chunks' bits.
# 2. A stricter prefilter read off each regex (`_requirements`): an OR of ANDs of
#    "some token is (or starts with) one of these words" that every match of the
#    regex satisfies, evaluated with the same bits. A regex runs only when one
#    holds; when an alternative is a single token the condition is exact and no
#    regex runs at all. What is left to do for a given integer of bits is cached
#    too (`_plan`).
# 3. classify depends on the text only through what fired; everything that does
#    not depend on VADER's scores (weights per kind, reason labels) is cached per
#    set of fired signals (`_profile` in `earful.intent_profile`).
# The bit layout is in `earful.intent_bits`. The caches start afresh when they
# reach _CACHE_SIZE entries.
#
# First sight (a new chunk, a new set of bits) is what a listener pays most: real
# posts bring names, numbers, URLs and typos. So a miss is kept cheap: a chunk's
# bits come from cached token bits in one pass (a chunk partly dropped as leading
# is flagged then, not re-checked per scan); a plan is a few ints, its regexes and
# its flag-dependent part looked up in small caches (`_TODO`, `_FLAG_PLANS`); and
# the big caches hold no containers, so the cyclic GC, whose full passes walk every
# container in the process, does not grow with them.

_CACHE_SIZE = 50_000  # entries per cache: some tens of MB at most


class _TokenBits(dict[str, int]):
    def __missing__(self, t: str) -> int:
        if len(self) >= _CACHE_SIZE:
            self.clear()
        bits = self[t] = _token_bits(t)
        return bits


class _Chunks(dict[str, int]):
    """Whitespace-separated chunk of raw text -> its bits; its tokens as spaced text
    (" where is") are kept alongside. `strip`: apostrophes are dropped (see `_tokens`).
    Ints and strings only, so the cyclic GC never has to walk what is cached."""

    def __init__(self, strip: bool) -> None:
        super().__init__()
        self.strip = strip
        self.spaced: dict[str, str] = {}

    def __missing__(self, chunk: str) -> int:
        if len(self) >= _CACHE_SIZE:  # start afresh; a scan holding this one finishes with it
            _CHUNKS[self.strip] = _Chunks(self.strip)
        low = lowered = chunk.lower()
        if self.strip:
            if "'" in low or "`" in low or not low.isascii():  # else no apostrophe in it
                low = _APOSTROPHES.sub("", low)
            plain = _CHUNKS[False]
            if low == lowered and chunk in plain:  # nothing dropped: the same as without
                bits = self[chunk] = plain[chunk]
                self.spaced[chunk] = plain.spaced[chunk]
                return bits
        if low.isascii() and low.isalpha():  # one token
            bits = _TOKEN_BITS[low]
            self.spaced[chunk] = " " + low
        else:
            tokens = _SPACED_TOKEN.findall(low)
            if len(tokens) == 1:
                bits = _TOKEN_BITS[tokens[0]]
            elif tokens:
                bits = reduce(operator.or_, map(_TOKEN_BITS.__getitem__, tokens))
                bits = bits & _NOT_FIRST_ONLY | _TOKEN_BITS[tokens[0]] & _FIRST_ONLY
                if bits & _F_LEAD and not all(t[0] in "@.:," for t in tokens):
                    bits |= _F_MIXED  # `_tokens` drops only the leading ones
            else:
                bits = _F_EMPTY
            self.spaced[chunk] = " " + " ".join(tokens) if tokens else ""
        # No match of _SHOUT or "?!" spans whitespace, nor does what its lookarounds see;
        # _SHOUT needs a capital A-Z, which lower() changes.
        if ("?" in chunk and ("?!" in chunk or "!?" in chunk or "??" in chunk)) or (
            lowered != chunk and _SHOUT.search(chunk)
        ):
            bits |= _F_SHOUT
        self[chunk] = bits
        return bits


_TOKEN_BITS = _TokenBits()
_CHUNKS = {False: _Chunks(False), True: _Chunks(True)}


def _reset_caches() -> None:
    """Forget every cached chunk, token and plan (for benchmarks of first sight)."""
    _TOKEN_BITS.clear()
    _CHUNKS.update({False: _Chunks(False), True: _Chunks(True)})
    _PLANS.clear()
    _TODO.clear()
    _FLAG_PLANS.clear()


def _scan(text: str) -> tuple[int, int, dict[int, str]]:
    """(fired signals as guard bits, extra signals as bits, words matched by "{m}" signals).

    Extra bits: 1 question form, 2 speaks to the brand, 4 and 8 the negations
    (0-2), 16 shouting.
    """
    chunks = text.split()
    cache = _CHUNKS["'" in text or "\u2019" in text]
    shout = 0
    if chunks and cache[chunks[0]] & _F_LEAD_EMPTY:
        # `_tokens` drops leading @handles and punctuation: skip the chunks made of those.
        skip = 0
        for chunk in chunks:
            bits = cache[chunk]
            if not bits & _F_LEAD_EMPTY:
                break
            if bits & _F_MIXED:
                return _scan_tokens(text)  # a chunk that is only partly dropped
            shout |= bits & _F_SHOUT
            skip += 1
        chunks = chunks[skip:]
    info = reduce(operator.or_, map(cache.__getitem__, chunks), shout)
    first = cache[chunks[0]] >> _F if chunks else 0
    return _decode(info, first, chunks, cache.spaced)


def _scan_tokens(text: str) -> tuple[int, int, dict[int, str]]:
    """`_scan` token by token (rare: a chunk whose leading tokens `_tokens` drops)."""
    tokens = _tokens(text)
    # What the chunks' shout bits add up to (see `_Chunks.__missing__`).
    shout = "?!" in text or "!?" in text or "??" in text or _SHOUT.search(text)
    info = reduce(operator.or_, map(_TOKEN_BITS.__getitem__, tokens), 0) & _NOT_FIRST_ONLY
    if shout:
        info |= _F_SHOUT
    first = _TOKEN_BITS[tokens[0]] >> _F if tokens else 0
    return _decode(info, first, tokens, {t: " " + t for t in tokens})


# A text's bits -> what is left to do: (found so far, regexes to try as guard bits,
# extra bits so far, whether it may still be a question (1; _DOTBANG_ added when a
# later sentence may open like one)). Ints only, so the cyclic GC soon stops walking
# them; the regexes to try are looked up by their guard bits in _TODO.
_Plan = tuple[int, int, int, int]
_PLANS: dict[int, _Plan] = {}
# Guard bits of the regexes to try -> (guard bit, regex, its words show in the reason).
_Todo = tuple[tuple[int, re.Pattern[str], bool], ...]
_TODO: dict[int, _Todo] = {}


def _plan(key: int) -> _Plan:
    x = key & _REGION
    y = key >> _Y  # no need to cut y and z to the region: they only meet x, _GUARDS and _CONDS
    z = key >> _Z
    flags = key >> _F
    found = z & _GUARDS
    run = x & (y | _NO_ALSO) & _RUNNABLE & ~found
    left = 0
    if run:
        held = x & y & z & _CONDS
        exact = ((held & _EXACT_CONDS) + _ONES) & run
        found |= exact
        left = ((held + _ONES) | _ALWAYS) & run & ~exact
    extra, question = _FLAG_PLANS.get(flags) or _flag_plan(flags)
    if found & _QSIG:
        question = 0
    if len(_PLANS) >= _CACHE_SIZE:
        _PLANS.clear()
    plan = _PLANS[key] = (found, left, extra, question)
    return plan


# A text's flags -> (extra bits, whether it may be a question unless a question
# signal fired); a few hundred distinct values.
_FLAG_PLANS: dict[int, tuple[int, int]] = {}


def _flag_plan(flags: int) -> tuple[int, int]:
    extra = 0
    if flags & _YOU_:
        extra |= 2
    if flags & _NEG_ALL_:
        extra |= min((flags & _NEG_ALL_).bit_count(), 2) << 2
    if flags & _SHOUT_:
        extra |= 16
    question = 0 if flags & _QMARK_ else 1 | flags & _DOTBANG_
    if len(_FLAG_PLANS) >= _CACHE_SIZE:
        _FLAG_PLANS.clear()
    plan = _FLAG_PLANS[flags] = (extra, question)
    return plan


def _todo(left: int) -> _Todo:
    todo: list[tuple[int, re.Pattern[str], bool]] = []
    rest = left
    while rest:
        bit = rest & -rest
        rest ^= bit
        regex = SIGNALS[_GUARD_OF[bit.bit_length() - 1]].pattern
        todo.append((bit, regex, bool(bit & _M_GUARDS)))
    if len(_TODO) >= _CACHE_SIZE:
        _TODO.clear()
    done = _TODO[left] = tuple(todo)
    return done


def _decode(
    info: int, first: int, units: list[str], spaced: dict[str, str]
) -> tuple[int, int, dict[int, str]]:
    """What `_scan` returns, from the OR of the bits of units (chunks or tokens), the
    flags of the first one and each unit's spaced text."""
    found, left, extra, question = _PLANS.get(info) or _plan(info)
    matched: dict[int, str] = {}
    low = ""
    if left:
        low = "".join(map(spaced.__getitem__, units)) + " "
        for bit, regex, shown in _TODO.get(left) or _todo(left):
            m = regex.search(low)
            if m:
                found |= bit
                if shown:
                    matched[bit.bit_length() - 1] = m.group(0).strip()
    if question and not found & _QSIG:
        if first & _QFIRST_:
            extra |= 1
        else:
            asks = False
            if first & _PAIR_:
                head = spaced[units[0]].split()
                for unit in units[1:]:
                    if len(head) >= 2:
                        break
                    head += spaced[unit].split()
                asks = tuple(head[:2]) in _Q_PAIRS
            if not asks and question & _DOTBANG_:
                low = low or "".join(map(spaced.__getitem__, units)) + " "
                asks = _LATER_QUESTION.search(low) is not None
            if asks:
                extra |= 1
    return found, extra, matched


def signals(text: str) -> list[tuple[Signal, str]]:
    """The signals that fire on text, each with the words that matched.

    For a signal found through its single-word cues, the words are the first
    such token of the text.
    """
    found, extra, matched = _scan(text)
    out: list[tuple[Signal, str]] = []
    tokens: list[str] = []
    low = ""
    for i, s in enumerate(SIGNALS):
        g = _GUARD[i]
        if not found >> g & 1:
            continue
        if g in matched:
            out.append((s, matched[g]))
            continue
        tokens = tokens or _tokens(text)
        hit = next((t for t in tokens if t in s.words), None)
        if hit is None and s.prefixes:
            hit = next((t for t in tokens if t.startswith(s.prefixes)), None)
        if hit is None:
            low = low or normalise(text)
            m = s.pattern.search(low)
            hit = m.group(0).strip() if m else ""
        out.append((s, hit))
    out += _EXTRAS[extra]
    return out


def _extras(extra: int) -> list[tuple[Signal, str]]:
    """The signals `extra`'s bits stand for: question form, "you", negations (0-2), shouting."""
    out: list[tuple[Signal, str]] = []
    if extra & 1:
        out.append((QUESTION_FORM, ""))
    if extra & 2:
        out.append((TO_YOU, ""))
    out += [(NEGATION, "")] * (extra >> 2 & 3)
    if extra & 16:
        out.append((SHOUTING, ""))
    return out


_EXTRAS = [_extras(extra) for extra in range(32)]

# Guard position -> (its signal, "") as `_fired` lists it when no words are shown.
_FIRED_AT = {g: (SIGNALS[i], "") for i, g in enumerate(_GUARD)}


def _fired(found: int, extra: int, matched: dict[int, str]) -> list[tuple[Signal, str]]:
    """The fired list `signals` returns, from `_scan`'s bits (words only where "{m}" shows them)."""
    out: list[tuple[Signal, str]] = []
    while found:  # guard positions grow with the signal's index
        bit = found & -found
        found ^= bit
        g = bit.bit_length() - 1
        out.append((SIGNALS[_GUARD_OF[g]], matched[g]) if g in matched else _FIRED_AT[g])
    out += _EXTRAS[extra]
    return out

"""Which signals fire on a text, fast: tokens, prefilter bits and caches.

Part of `earful.intent`. `signals(text)` finds exactly what the plain method
finds (every regex whose keys occur, run on the normalised text; the
reference kept in tests/test_intent.py), through per-chunk bits and the
conditions `earful.intent_regex` reads off each regex. The bit layout is built
once at import from those conditions; `_CHUNKS`, `_TOKEN_BITS`, `_PLANS` and
`_TODO` are caches capped at `_CACHE_SIZE` entries each; all but the small
`_TODO` hold ints and strings only, so the cyclic GC has nothing in them to walk.
"""

from __future__ import annotations

import operator
import re
from functools import reduce

from earful.intent_regex import _DIGIT, _EXACT, _KEY_LEN, _Condition, _requirements
from earful.intent_signals import (
    _LATER_QUESTION,
    _NEGATIONS,
    _Q_FIRST,
    _Q_PAIRS,
    _SHOUT,
    _YOU,
    NEGATION,
    QUESTION_FORM,
    SHOUTING,
    SIGNALS,
    TO_YOU,
    Signal,
)

# Prefilter index: key -> the signals it may trigger.
_INDEX: dict[str, tuple[int, ...]] = {}
for _i, _s in enumerate(SIGNALS):
    for _k in _s.keys:
        _INDEX[_k] = (*_INDEX.get(_k, ()), _i)
_WORD_INDEX: dict[str, tuple[int, ...]] = {}
_PREFIX_INDEX: dict[str, tuple[tuple[int, str], ...]] = {}
for _i, _s in enumerate(SIGNALS):
    for _w in _s.words:
        _WORD_INDEX[_w] = (*_WORD_INDEX.get(_w, ()), _i)
    for _p in _s.prefixes:
        _PREFIX_INDEX[_p[:_KEY_LEN]] = (*_PREFIX_INDEX.get(_p[:_KEY_LEN], ()), (_i, _p))
_QUESTION_SIGNALS = frozenset(i for i, s in enumerate(SIGNALS) if s.kind == "question")

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
#    set of fired signals (`_profile` in `earful.intent`).
# The caches start afresh when they reach _CACHE_SIZE entries.
#
# First sight (a new chunk, a new set of bits) is what a listener pays most: real
# posts bring names, numbers, URLs and typos. So a miss is kept cheap: a chunk's
# bits come from cached token bits in one pass (a chunk partly dropped as leading
# is flagged then, not re-checked per scan); a plan is a few ints, its regexes and
# its flag-dependent part looked up in small caches (`_TODO`, `_FLAG_PLANS`); and
# the big caches hold no containers, so the cyclic GC, whose full passes walk every
# container in the process, does not grow with them.


# --- The bits ---------------------------------------------------------------------
#
# Signal i owns a segment of the condition region: one bit per condition of its
# regex, then a guard bit. A text's X, Y and Z regions hold, per condition, whether
# its first, second and third most selective groups occur; their AND has a
# condition's bit set when the condition holds, and adding _ONES carries into a
# signal's guard bit exactly when one of its conditions holds. Everything else
# that is per signal (found by a word, by a prefix, key seen, `also` key seen)
# sits at the guard positions of further regions, so one AND combines them.
_SEGMENTS: list[tuple[int, list[_Condition] | None]] = []  # (offset, conditions)
_offset = 0
for _s in SIGNALS:
    _req = _requirements(_s.pattern.pattern)
    _conds = _req[0] if _req else None
    if _conds and any(not g for g, _, _ in _conds):
        _conds = []  # some alternative needs nothing: always run the whole regex
    _SEGMENTS.append((_offset, _conds))
    _offset += len(_conds or ()) + 1
_R = _offset  # width of a region
_GUARD = [off + len(conds or ()) for off, conds in _SEGMENTS]
_GUARD_OF = {g: i for i, g in enumerate(_GUARD)}
_GUARDS = sum(1 << g for g in _GUARD)
_REGION = (1 << _R) - 1
_CONDS = _REGION & ~_GUARDS
_X, _Y, _Z = 0, _R, 2 * _R
_K, _A, _WP = _X, _Y, _Z  # guard positions: key seen, `also` key seen, found by word or prefix
_F = 3 * _R  # flags, as bits of info >> _F
_YOU_, _QMARK_, _DOTBANG_, _SHOUT_, _LEAD_, _EMPTY_, _QFIRST_, _PAIR_ = (1 << n for n in range(8))
_NEG_ALL_ = ((1 << len(_NEGATIONS)) - 1) << 8
_NEG_BIT = {w: 1 << (_F + 8 + n) for n, w in enumerate(sorted(_NEGATIONS))}
_F_SHOUT, _F_LEAD, _F_EMPTY = _SHOUT_ << _F, _LEAD_ << _F, _EMPTY_ << _F
_F_LEAD_EMPTY = _F_LEAD | _F_EMPTY
_FIRST_ONLY = (_LEAD_ | _QFIRST_ | _PAIR_) << _F  # about a chunk's first token only
_NOT_FIRST_ONLY = ((1 << (_F + 8 + len(_NEGATIONS))) - 1) ^ _FIRST_ONLY  # all other bits
# A chunk's own flag, never a token's: its first token is dropped as leading, a later one is not.
_F_MIXED = 1 << (_F + 8 + len(_NEGATIONS))

_ONES = _EXACT_CONDS = _ALWAYS = _NEVER = _NO_ALSO = 0
_ATOM_BITS: dict[str, int] = {}
for _i, (_off, _conds) in enumerate(_SEGMENTS):
    if _conds is None:
        _NEVER |= 1 << _GUARD[_i]
    elif not _conds:
        _ALWAYS |= 1 << _GUARD[_i]
    if not SIGNALS[_i].also:
        _NO_ALSO |= 1 << _GUARD[_i]
    _ONES |= ((1 << len(_conds or ())) - 1) << _off
    for _j, (_groups, _exact, _) in enumerate(_conds or ()):
        _bit = _off + _j
        _EXACT_CONDS |= _exact << _bit
        # Up to three groups per condition, most selective first (long words are rarer).
        _best = sorted(_groups, key=lambda g: (sum(1.0 / len(a) for a in g), sorted(g)))[:3]
        for _region, _g in zip((_X, _Y, _Z), (_best * 3)[:3], strict=True):
            for _a in _g:
                _ATOM_BITS[_a] = _ATOM_BITS.get(_a, 0) | 1 << (_region + _bit)
_DIGIT_BITS = _ATOM_BITS.pop(_DIGIT, 0)
_RUNNABLE = _GUARDS & ~_NEVER
_QSIG = sum(1 << _GUARD[i] for i in _QUESTION_SIGNALS)
_PAIR_FIRST = frozenset(a for a, _ in _Q_PAIRS)
# Signals whose reason shows the matched words: those words are part of the cache key.
_M_GUARDS = sum(1 << _GUARD[i] for i, s in enumerate(SIGNALS) if "{m}" in s.label)
assert not any(s.words or s.prefixes for s in SIGNALS if "{m}" in s.label)
_KEY_BITS: dict[str, int] = {}
for _k, _ids in _INDEX.items():
    _KEY_BITS[_k] = sum(1 << (_K + _GUARD[i]) for i in _ids)
for _i, _s in enumerate(SIGNALS):
    for _k in _s.also:
        _KEY_BITS[_k] = _KEY_BITS.get(_k, 0) | 1 << (_A + _GUARD[_i])
_WORD_BITS = {w: sum(1 << (_WP + _GUARD[i]) for i in ids) for w, ids in _WORD_INDEX.items()}
_CACHE_SIZE = 50_000  # entries per cache: some tens of MB at most


# Flags a token carries by being one of these words.
_FLAG_WORDS: dict[str, int] = {"?": _QMARK_}
for _w in _YOU:
    _FLAG_WORDS[_w] = _FLAG_WORDS.get(_w, 0) | _YOU_
for _w in _Q_FIRST:
    _FLAG_WORDS[_w] = _FLAG_WORDS.get(_w, 0) | _QFIRST_
for _w in _PAIR_FIRST:
    _FLAG_WORDS[_w] = _FLAG_WORDS.get(_w, 0) | _PAIR_
# A token gets bits other than flags and _DIGIT_BITS only if it begins like one of these.
_STARTS = frozenset(
    x.lstrip(_EXACT)[:2] for x in (*_WORD_BITS, *_KEY_BITS, *_ATOM_BITS, *_NEG_BIT, *_PREFIX_INDEX)
)
_ATOM_HEADS = frozenset(a[:n] for a in _ATOM_BITS for n in range(1, len(a) + 1))


def _token_bits(t: str) -> int:
    """The bits one token contributes (see above)."""
    flags = _FLAG_WORDS.get(t, 0)
    if t[-1] in ".!":
        flags |= _DOTBANG_
    if t[0] in "@.:,":
        flags |= _LEAD_
    bits = flags << _F
    if t[0].isdecimal():  # what \d matches
        bits |= _DIGIT_BITS
    if t[:2] not in _STARTS:  # only a one-character atom can match
        return bits | _ATOM_BITS.get(t[0], 0)
    bits |= _WORD_BITS.get(t, 0) | _KEY_BITS.get(t[:_KEY_LEN], 0) | _NEG_BIT.get(t, 0)
    for i, prefix in _PREFIX_INDEX.get(t[:_KEY_LEN], ()):
        if t.startswith(prefix):
            bits |= 1 << (_WP + _GUARD[i])
    n = 1
    while n <= len(t) and t[:n] in _ATOM_HEADS:  # the atoms t starts with
        bits |= _ATOM_BITS.get(t[:n], 0)
        n += 1
    return bits | _ATOM_BITS.get(_EXACT + t, 0)


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

"""The prefilter's bit layout, built once at import, and the bits one token carries.

Part of `earful.intent` (see "How signals() stays cheap" in `earful.intent_scan`).
From the signal table and the conditions `earful.intent_regex` reads off each
regex, this lays out one integer: a segment per signal (a bit per condition,
then a guard bit) in three regions for a condition's groups, the guard
positions of further regions for keys, `also` keys and single-word cues, and
flags ("you", "?", negations, question openings, leading @handles) above them.
`_token_bits` gives what one token contributes to it.

The cut is here because this is pure and computed once (the conditions cost
most of the import): `earful.intent_scan` keeps what runs per text, the
caches bounded by its `_CACHE_SIZE`, the scan, the plans and the decoding.
"""

from __future__ import annotations

from earful.intent_conditions import _DIGIT, _EXACT
from earful.intent_regex import _KEY_LEN, _Condition, _requirements
from earful.intent_signals import _NEGATIONS, _Q_FIRST, _Q_PAIRS, _YOU, SIGNALS

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

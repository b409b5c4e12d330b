"""VADER 3.3.2's `polarity_scores`, same floats, at a fraction of the cost.

VADER walks every token through its rules in Python, but only words of its
lexicon get a valence: a typical post has 0-3 of ~15. `FastVader` does the
common work with C-level str and set operations (one `split` and one `lower`
of the whole text, `strip` of VADER's punctuation via `map`, set lookups to
find the lexicon words) and runs VADER's per-word rules only at those
positions, reading the three words before and two after, exactly as VADER
reads them. A lexicon word with no rule word (negation, booster, "no",
"least", "so"/"this", "n't") among the three before it and no idiom word in
the text just gets its valence (plus ALL CAPS emphasis). Zero-valence tokens
count in bulk: each adds nothing to the sums and one to the neutral count. A
text with no lexicon word gets VADER's neutral dict at once.

Kept exactly, in VADER's order of float operations: the booster scalars of
the three previous words (dampened by distance, caps emphasis), "no" as a
negator, the caps differential, negation ("n't" words included), "never
so/this", "without doubt", the idioms and "kind of"/"sort of" bigrams,
"least", booster words and "kind of" scoring 0, the "but" rule with VADER's
`sentiments.index(value)` quirk (run over the non-zero sentiments only: a
zero never equals a non-zero value), "!"/"?" emphasis, `_sift_sentiment_scores`,
normalisation and rounding.

Non-ASCII text first has its emoji described (VADER's spacing rules, with
`str.translate`). The text is then lower-cased once: letter for letter, that
keeps every token in place and every punctuation mark and space as it was;
where a letter lower-cases to two characters ("İ") VADER's own per-token
steps are used.
Per-text results are cached by what decides them (token count, "!" and "?"
counts, the non-zero sentiments): rounding alone costs more than the lookup.
tests/test_vader.py compares against plain VADER on thousands of generated
texts.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from itertools import compress, count, repeat
from types import MappingProxyType

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

_PUNCT = string.punctuation
_NEGATE = frozenset(NEGATE)
_BOOSTER: dict[str, float] = dict(BOOSTER_DICT)
_SO_THIS = ("so", "this")
_OR_NOR = ("or", "nor")

# VADER's dicts for a text without tokens and one without sentiment words.
_EMPTY = {"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0}
_NEUTRAL = {"neg": 0.0, "neu": 1.0, "pos": 0.0, "compound": 0.0}

# A lexicon word's valence is just its lexicon value unless one of the three
# words before it is one of these (negations, boosters, "no", "least", "never
# so", "without doubt"), a word before it contains "n't", it is "no" or "kind",
# or it is in its ALL CAPS, or the text holds an idiom's rarest word.
_RULE_WORDS = frozenset(
    [*NEGATE, *(k for k in BOOSTER_DICT if " " not in k), "no", "least", "so", "this", "doubt"]
)
# One word of each multi-word idiom or booster phrase: without any, none can match.
_IDIOM_WORDS = frozenset(
    ["shit", "bomb", "ass", "bus", "yeah", "kiss", "die", "beating", "enough", "kind", "sort"]
)
assert all(
    not _IDIOM_WORDS.isdisjoint(k.split()) for k in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in k
)
_RULE_OR_IDIOM_WORDS = _RULE_WORDS | _IDIOM_WORDS
# These are compared with a token's stripped form: none may start or end with punctuation.
assert all(w == w.strip(_PUNCT) for w in (*_RULE_WORDS, *_IDIOM_WORDS))


def _strip_punc_if_word(token: str) -> str:
    """VADER's `SentiText._strip_punc_if_word`."""
    stripped = token.strip(_PUNCT)
    return token if len(stripped) <= 2 else stripped


class FastVader(SentimentIntensityAnalyzer):
    """VADER 3.3.2's scores, computed at the lexicon words only.

    `extra` valences are added to VADER's lexicon (the tuned analyzer's
    customer-service words). The lexicon is indexed when the analyzer is
    built: `lexicon` is a read-only view, changed through `update_lexicon`.
    """

    def __init__(self, extra: Mapping[str, float] | None = None) -> None:
        super().__init__()
        singles = sorted(k for k in self.emojis if len(k) == 1)
        self._emoji = re.compile("[" + "".join(re.escape(k) for k in singles) + "]")
        self._emoji_chars = frozenset(singles)
        self._emoji_table = {ord(k): "\x00" + self.emojis[k] for k in singles}
        assert not any(
            d.startswith(" ") or d.endswith(" ") or "\x00" in d or not d
            for d in map(self.emojis.__getitem__, singles)
        )
        # The lexicon is indexed below: it is read-only outside `update_lexicon`.
        self._lex: dict[str, float] = self.make_lex_dict()  # as VADER's __init__ builds it
        self.lexicon = MappingProxyType(self._lex)
        self.update_lexicon(extra or {})

    def update_lexicon(self, valences: Mapping[str, float]) -> None:
        """Add or change lexicon valences (and re-index them)."""
        self._lex.update(valences)
        # Words that can get a valence: booster words always score 0.
        self._hits = frozenset(self._lex).difference(_BOOSTER)
        # Those that strip to 2 characters or fewer: VADER keeps the token itself.
        self._short_hits = frozenset(w for w in self._hits if len(w.strip(_PUNCT)) <= 2)

    def describe_emoji(self, text: str) -> str:
        """VADER's emoji-to-description rewrite, with str methods instead of a Python loop.

        VADER's emoji keys that can match are single non-ASCII characters; it
        adds a space before a description unless the previous character was a
        space (or there was none), and an emoji counts as not a space. Each
        emoji becomes NUL + description, then the NULs become those spaces (no
        description starts or ends with a space or holds a NUL).
        """
        if self._emoji_chars.isdisjoint(text):
            return text
        if "\x00" in text:  # NUL is taken: one regex (slow: its class has 1,200 characters)
            emojis = self.emojis

            def one(m: re.Match[str]) -> str:
                i = m.start()
                if i == 0 or text[i - 1] == " ":
                    return str(emojis[m.group()])
                return " " + emojis[m.group()]

            return self._emoji.sub(one, text)
        out = text.translate(self._emoji_table).replace(" \x00", " ")
        if out[0] == "\x00":
            out = out[1:]
        return out.replace("\x00", " ")

    def polarity_scores(self, text: str) -> dict[str, float]:
        """VADER's {"neg", "neu", "pos", "compound"} for `text`, a new dict."""
        return self.shared_scores(text).copy()

    def shared_scores(self, text: str) -> dict[str, float]:
        """`polarity_scores` without the copy: a dict shared between calls, never to be changed."""
        hits = self._hits
        toks: list[str] | None = None  # the original tokens, split on first need (ALL CAPS)
        if not text.isascii():
            text = self.describe_emoji(text)
            toks = text.split()
        low = text.lower()
        if toks is not None and len(low) != len(text):
            # Some letter lower-cases to two characters ("İ"): VADER's own steps, per token.
            if not toks:
                return _EMPTY
            lows = stripped = [_strip_punc_if_word(t).lower() for t in toks]
            if hits.isdisjoint(lows):
                return _NEUTRAL
            where = list(compress(count(), map(hits.__contains__, lows)))
            nt = "n't" in " ".join(lows)
        else:
            # Lower-casing letter for letter keeps the tokens where they were,
            # turns no punctuation or space into anything else (checked over
            # all of Unicode in tests/test_vader.py) and lower-cases a final
            # sigma alike in a token and in the text: same words as VADER's.
            lows = low.split()
            if not lows:
                return _EMPTY
            stripped = list(map(str.strip, lows, repeat(_PUNCT)))
            # VADER's word is the stripped token when that keeps 3+ characters,
            # else the token itself (":)", "no"): a lexicon word is a stripped
            # token or, when it strips to 2 characters or fewer, a token.
            short = self._short_hits
            if hits.isdisjoint(stripped):
                if short.isdisjoint(lows):
                    return _NEUTRAL
                where = list(compress(count(), map(short.__contains__, lows)))
            else:
                where = list(compress(count(), map(hits.__contains__, stripped)))
                if not short.isdisjoint(lows):
                    more = compress(count(), map(short.__contains__, lows))
                    where = sorted(set(where).union(more))
            nt = "n't" in low

        lex = self._lex
        # Most texts hold no rule or idiom word at all: then no look-back is needed.
        special = not _RULE_OR_IDIOM_WORDS.isdisjoint(stripped)
        idioms = special and not _IDIOM_WORDS.isdisjoint(stripped)
        rule_words = _RULE_WORDS if special else None
        positions: list[int] = []
        values: list[float] = []
        for i in where:
            s = stripped[i]
            w = s if len(s) > 2 else lows[i]
            if w not in hits:
                continue
            if (
                idioms
                or w == "no"
                or (
                    rule_words is not None
                    and not rule_words.isdisjoint(stripped[i - 3 if i > 3 else 0 : i])
                )
                or (nt and "n't" in " ".join(lows[i - 3 if i > 3 else 0 : i]))
            ):
                v = self._valence(i, w, text, lows, stripped, idioms, toks)
            else:
                # Only ALL CAPS emphasis can apply. An upper-case ASCII token
                # holds its lower-cased word in upper case: look for that first.
                v = lex[w]
                if toks is None:
                    wu = w.upper()
                    if wu != w and wu in text:
                        toks = text.split()
                if toks is not None and toks[i].isupper() and _is_cap_diff(toks):
                    v = v + C_INCR if v > 0 else v - C_INCR
            if v != 0:
                positions.append(i)
                values.append(v)
        if values and "but" in stripped:
            # `stripped` holds "but" exactly where VADER's lower-cased word is "but".
            _but_check(values, positions, stripped.index("but"))
        return _score_valence(values, len(lows), text)

    def _valence(
        self,
        i: int,
        w: str,
        text: str,
        lows: list[str],
        stripped: list[str],
        idioms: bool,
        original: list[str] | None,
    ) -> float:
        """VADER's `sentiment_valence` for the lexicon word `w` at position `i` (0 for "kind of").

        `idioms`: whether the text holds a word of some idiom or booster
        phrase; `original`: the original tokens, None for ASCII text not yet split.
        """
        lex = self._lex
        last = len(lows) - 1
        toks: list[str] = original if original is not None else []
        if w == "kind" and i < last and _word(stripped, lows, i + 1) == "of":
            return 0
        valence = lex[w]
        if w == "no" and i != last and _word(stripped, lows, i + 1) in lex:
            valence = 0.0
        w1 = w2 = w3 = ""
        if i > 0:
            s = stripped[i - 1]
            w1 = s if len(s) > 2 else lows[i - 1]
            if i > 1:
                s = stripped[i - 2]
                w2 = s if len(s) > 2 else lows[i - 2]
                if i > 2:
                    s = stripped[i - 3]
                    w3 = s if len(s) > 2 else lows[i - 3]
        if w1 == "no" or w2 == "no" or (w3 == "no" and w1 in _OR_NOR):
            valence = lex[w] * N_SCALAR
        if _caps(text, toks, i, w):
            if valence > 0:
                valence += C_INCR
            else:
                valence -= C_INCR
        # VADER's loop over start_i = 0, 1, 2, unrolled: a preceding word in the
        # lexicon is skipped; else its booster scalar (dampened with distance) is
        # added, then the negation checks for that distance.
        if i > 0 and w1 not in lex:
            sc = 0.0
            if w1 in _BOOSTER:
                sc = _scalar(w1, valence, _caps(text, toks, i - 1, w1))
            valence = valence + sc
            if w1 in _NEGATE or "n't" in w1:
                valence = valence * N_SCALAR
        if i > 1 and w2 not in lex:
            sc = 0.0
            if w2 in _BOOSTER:
                sc = _scalar(w2, valence, _caps(text, toks, i - 2, w2))
                if sc != 0:
                    sc = sc * 0.95
            valence = valence + sc
            if w2 == "never" and w1 in _SO_THIS:
                valence = valence * 1.25
            elif w2 == "without" and w1 == "doubt":
                pass
            elif w2 in _NEGATE or "n't" in w2:
                valence = valence * N_SCALAR
        if i > 2 and w3 not in lex:
            sc = 0.0
            if w3 in _BOOSTER:
                sc = _scalar(w3, valence, _caps(text, toks, i - 3, w3))
                if sc != 0:
                    sc = sc * 0.9
            valence = valence + sc
            if w3 == "never" and w2 in _SO_THIS or w1 in _SO_THIS:
                valence = valence * 1.25
            elif w3 == "without" and (w2 == "doubt" or w1 == "doubt"):
                pass
            elif w3 in _NEGATE or "n't" in w3:
                valence = valence * N_SCALAR
            if idioms:  # else no idiom or booster phrase can match
                valence = _special_idioms(valence, w, w1, w2, w3, i, last, stripped, lows)
        # _least_check
        if i > 1 and w1 not in lex and w1 == "least":
            if w2 != "at" and w2 != "very":
                valence = valence * N_SCALAR
        elif i > 0 and w1 not in lex and w1 == "least":
            valence = valence * N_SCALAR
        return valence


def _word(stripped: list[str], lows: list[str], j: int) -> str:
    """VADER's lower-cased word j: the stripped token if 3+ characters remain, else the token."""
    s = stripped[j]
    return s if len(s) > 2 else lows[j]


def _caps(text: str, toks: list[str], j: int, wj: str) -> bool:
    """Whether token j (lower-cased word `wj`) is ALL CAPS and VADER's is_cap_diff holds.

    `toks`: the original tokens, or empty for ASCII text not split yet (filled
    here on need: an ALL CAPS ASCII token holds `wj` in upper case).
    """
    if not toks:
        wu = wj.upper()
        if wu == wj or wu not in text:
            return False
        toks.extend(text.split())
    return toks[j].isupper() and _is_cap_diff(toks)


def _is_cap_diff(toks: list[str]) -> bool:
    """VADER's `allcap_differential`: some but not all tokens are ALL CAPS."""
    differential = len(toks) - sum(map(str.isupper, toks))
    return 0 < differential < len(toks)


def _scalar(word: str, valence: float, caps: bool) -> float:
    """VADER's `scalar_inc_dec` for a booster word (lower-cased; `caps`: ALL CAPS emphasis)."""
    scalar = _BOOSTER[word]
    if valence < 0:
        scalar *= -1
    if caps:
        if valence > 0:
            scalar += C_INCR
        else:
            scalar -= C_INCR
    return scalar


def _special_idioms(
    valence: float,
    w: str,
    w1: str,
    w2: str,
    w3: str,
    i: int,
    last: int,
    stripped: list[str],
    lows: list[str],
) -> float:
    """VADER's `_special_idioms_check` (only called with i >= 3)."""
    onezero = f"{w1} {w}"
    twoonezero = f"{w2} {w1} {w}"
    twoone = f"{w2} {w1}"
    threetwoone = f"{w3} {w2} {w1}"
    threetwo = f"{w3} {w2}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if last > i:
        zeroone = f"{w} {_word(stripped, lows, i + 1)}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if last > i + 1:
        zeroonetwo = f"{w} {_word(stripped, lows, i + 1)} {_word(stripped, lows, i + 2)}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in _BOOSTER:
            valence = valence + _BOOSTER[n_gram]
    return valence


def _but_check(values: list[float], positions: list[int], bi: int) -> None:
    """VADER's `_but_check`, in place, on the non-zero sentiments and their positions.

    VADER finds each sentiment's position with `sentiments.index(value)`,
    so a repeated value scales its first occurrence again and leaves the
    later one alone; zeros never equal a non-zero value, so skipping them
    changes nothing.
    """
    for k in range(len(values)):
        v = values[k]
        si = values.index(v)
        p = positions[si]
        if p < bi:
            values[si] = v * 0.5
        elif p > bi:
            values[si] = v * 1.5


# `_score_valence` results by (token count, "!" count, "?" count, *sentiments):
# a pure function of these, and rounding alone costs more than a lookup.
_SCORES: dict[tuple[float, ...], dict[str, float]] = {}
_MAX_SCORES = 16_384  # ~0.5 KB each


def _score_valence(values: list[float], n: int, text: str) -> dict[str, float]:
    """VADER's `score_valence` for `n` tokens whose non-zero sentiments are `values`.

    Same floats as VADER's over all n sentiments: adding a zero never changes
    a float sum, and zeros only count as neutral.
    """
    if not values:
        return _NEUTRAL
    ep_count = text.count("!")
    qm_count = text.count("?")
    key = (n, ep_count, qm_count, *values)
    scores = _SCORES.get(key)
    if scores is None:
        if len(_SCORES) >= _MAX_SCORES:
            _SCORES.clear()
        scores = _SCORES[key] = _compute_scores(values, n, ep_count, qm_count)
    return scores


def _compute_scores(values: list[float], n: int, ep_count: int, qm_count: int) -> dict[str, float]:
    """VADER's `score_valence` arithmetic, step for step (`normalize` inlined)."""
    sum_s = float(sum(values))
    qm_amplifier = 0.0
    if qm_count > 1:
        qm_amplifier = qm_count * 0.18 if qm_count <= 3 else 0.96
    punct_emph_amplifier = (ep_count if ep_count < 4 else 4) * 0.292 + qm_amplifier
    if sum_s > 0:
        sum_s += punct_emph_amplifier
    elif sum_s < 0:
        sum_s -= punct_emph_amplifier
    compound = sum_s / math.sqrt((sum_s * sum_s) + 15)
    if compound < -1.0:
        compound = -1.0
    elif compound > 1.0:
        compound = 1.0
    pos_sum = 0.0
    neg_sum = 0.0
    for s in values:
        if s > 0:
            pos_sum += float(s) + 1
        elif s < 0:
            neg_sum += float(s) - 1
    neu_count = n - len(values)
    fabs = math.fabs
    if pos_sum > fabs(neg_sum):
        pos_sum += punct_emph_amplifier
    elif pos_sum < fabs(neg_sum):
        neg_sum -= punct_emph_amplifier
    total = pos_sum + fabs(neg_sum) + neu_count
    return {
        "neg": round(fabs(neg_sum / total), 3),
        "neu": round(fabs(neu_count / total), 3),
        "pos": round(fabs(pos_sum / total), 3),
        "compound": round(compound, 4),
    }

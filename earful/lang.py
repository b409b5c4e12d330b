"""Language detection, cheap enough to run on every mention.

`detect_lang(text)` returns an ISO 639-1 code, or None when the text is too
short or too ambiguous to tell (callers treat None as "score it anyway").

Most mentions are plain English, and lingua costs about twice as much as
VADER itself, so a fast path answers first, with str methods and set lookups
(ASCII text as bytes: one `translate` for the punctuation, then `split`):

- fewer than 3 words or 12 characters: undetermined (None), unless written in
  another script (a short Japanese reply goes to lingua);
- ASCII letters (emoji, punctuation and curly quotes aside), no frequent
  foreign function word, or just one next to an English one ("El Paso", "per
  day"): "en" if it has an English function word, else undetermined. Lingua's
  guesses on such short posts are noise ("Boring as hell" comes back Swedish);
- mostly ASCII (a "café" or two) with English function words outnumbering
  foreign ones three to one: "en".

Only the rest, text with real evidence of another language (accented
letters, another script, foreign function words), goes to lingua, built once
per process from a fixed set of common languages in low-accuracy mode; its
models ship inside the wheel, so nothing is downloaded. Low-accuracy mode can
confuse close languages on short text (Spanish read as Portuguese); it still
tells English from the rest, which is the decision scoring depends on.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

LANGUAGES: tuple[Language, ...] = (
    Language.ENGLISH,
    Language.SPANISH,
    Language.PORTUGUESE,
    Language.FRENCH,
    Language.GERMAN,
    Language.ITALIAN,
    Language.DUTCH,
    Language.SWEDISH,
    Language.POLISH,
    Language.TURKISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.ARABIC,
    Language.HINDI,
    Language.JAPANESE,
    Language.KOREAN,
    Language.CHINESE,
    Language.INDONESIAN,
    Language.VIETNAMESE,
    Language.TAGALOG,
)

# Frequent English words. A few also occur in other languages ("a", "in", "is",
# "so", "me"); the rule in `detect_lang` needs English ones to outnumber
# FOREIGN_WORDS three to one, which a Spanish or Dutch sentence never does.
ENGLISH_WORDS = frozenset(
    """
    the and you your you're youre my mine to of for with this that these those it it's its
    are were have has had been being not just what why how when where who which would could
    should i a is in on so me no was an am do can't cant don't dont didn't didnt won't wont isn't wasn't doesn't i'm im i've ive
    i'll i'd we our they their them he she his her at from about into out up get got getting
    still again never ever any some all only really very too also than then there here more
    much now today tonight yet because but or if thanks thank please help can will be
    """.split()
)

# Frequent words of the other Latin-script languages above: positive evidence
# that a text is not English. None of them is a common English word.
FOREIGN_WORDS = frozenset(
    """
    el la los las que es por para con una del al lo su sus muy pero mas más está esta este
    esto eso estoy tengo todo nada hoy ya bien mal gracias hola cuando como porque también
    le les et est pas je une des du au aux ce cette avec pour sur mais très suis vous nous
    c'est ça merci bonjour qui dans fait ne tout rien elle j'ai moi toujours encore
    der die das und ist nicht ich mit ein eine einen dem den zu auf für sehr aber noch schon
    auch nur wie mein meine kein keine heute immer wieder danke bitte habe sind wir
    il che di per non sono della delle questo anche mi ho grazie molto sempre perché mio mia suo sua
    het een niet ik van dat zijn maar voor ook wel nog bedankt heel echt
    os um uma não nao em dos das com mais muito isso você obrigado obrigada meu minha ainda
    och att jag inte det som på är för med
    nie jest się na że jak ale tak
    ve bir bu çok ama için ile
    yang dan ini itu tidak dengan untuk saya
    ang ng mga sa hindi ko
    """.split()
).difference(ENGLISH_WORDS)

_PUNCTUATION = (",", ".", "!", "?", ":", ";", '"', "(", ")")
# str.split() also splits at \x1c-\x1f, bytes.split() does not: those become \x0b,
# whitespace to both that is not counted as a space.
_PUNCTUATION_TO_SPACE = bytes.maketrans(
    "".join(_PUNCTUATION).encode() + b"\x1c\x1d\x1e\x1f", b" " * len(_PUNCTUATION) + b"\x0b" * 4
)
_ENGLISH_ASCII = frozenset(w.encode() for w in ENGLISH_WORDS if w.isascii())
_FOREIGN_ASCII = frozenset(w.encode() for w in FOREIGN_WORDS if w.isascii())
# URLs, @handles (also user@instance) and e-mail addresses say nothing about the language.
_NOISE = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]*@[\w.-]*\w", re.IGNORECASE)
# Letters outside ASCII: Latin-1 and Latin Extended, Greek, Cyrillic, Hebrew,
# Arabic, Indic, Thai, Hangul, kana and CJK. Emoji and punctuation are not here.
_FOREIGN_LETTER = re.compile(
    "[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u052f\u0590-\u06ff"
    "\u0900-\u0dff\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af]"
)
_OTHER_SCRIPT = re.compile(
    "[\u0370-\u03ff\u0400-\u052f\u0590-\u06ff\u0900-\u0dff\u0e00-\u0e7f\u1100-\u11ff"
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)

MIN_LETTERS = 12  # fewer letters than this: undetermined
MIN_WORDS = 3
FAST_SCAN_CHARS = 2_000  # the fast path and lingua look at the start of long texts only


@lru_cache(maxsize=1)
def detector() -> LanguageDetector:
    """The lingua detector of this process, built on first use."""
    return LanguageDetectorBuilder.from_languages(*LANGUAGES).with_low_accuracy_mode().build()


def normalize_lang(code: str | None) -> str | None:
    """A platform's language tag ("en-US", "pt_BR", "und", "") -> ISO 639-1 or None."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-").split("-", 1)[0]
    if code in ("", "und", "mul", "zxx"):
        return None
    return {"eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de"}.get(
        code, code
    )


def detect_lang(text: str) -> str | None:
    """ISO 639-1 code of `text`'s language, or None when it cannot be told (short, emoji-only)."""
    sample = text[:FAST_SCAN_CHARS]
    if "@" in sample or "://" in sample or "www." in sample:
        sample = _NOISE.sub(" ", sample)
    # str and bytes methods only: a regex tokenizer would cost as much as the rest of this.
    if sample.isascii():
        # ASCII as bytes: one translate replaces the punctuation, and the
        # words are looked up in the ASCII words' byte strings.
        low_b = sample.encode("ascii").lower().translate(_PUNCTUATION_TO_SPACE)
        words_b = low_b.split()
        size = len(low_b) - low_b.count(b" ")
        if len(words_b) < MIN_WORDS or size < MIN_LETTERS:
            return None  # too little to tell
        if _FOREIGN_ASCII.isdisjoint(words_b):
            # Latin letters and no sign of another language: lingua only
            # guesses on such text (terse English comes back as Swedish).
            return None if _ENGLISH_ASCII.isdisjoint(words_b) else "en"
        distinct_b = set(words_b)
        en = len(distinct_b & _ENGLISH_ASCII)
        other = len(distinct_b & _FOREIGN_ASCII)
        if other == 1 and en:
            return "en"  # one foreign word in English: a name, "El Paso", "per day"
        if en >= 2 and en >= 3 * other:
            return "en"
        return _lingua(sample)
    sample = sample.replace("\u2019", "'")
    low = sample.lower()
    for p in _PUNCTUATION:
        if p in low:
            low = low.replace(p, " ")
    words = low.split()
    foreign = len(_FOREIGN_LETTER.findall(sample))
    size = len(low) - low.count(" ")
    if len(words) < MIN_WORDS or size < MIN_LETTERS:
        # Too little to tell, unless it is written in another script (a short Japanese reply).
        if foreign and _OTHER_SCRIPT.search(sample):
            return _lingua(sample)
        return None
    if foreign * 20 <= size:  # at most ~5% non-ASCII letters ("café", a name)
        distinct = set(words)
        en = len(distinct & ENGLISH_WORDS)
        other = len(distinct & FOREIGN_WORDS)
        if not foreign:
            if other == 0:
                return "en" if en else None
            if other == 1 and en:
                return "en"
        if en >= 2 and en >= 3 * other:
            return "en"
    return _lingua(sample)


def _lingua(text: str) -> str | None:
    lang = detector().detect_language_of(text)
    if lang is None:
        return None
    return lang.iso_code_639_1.name.lower()

"""What a demo post says: a template filled for one entity, platform and hour, then decorated.

Part of `earful.demo`. `_slots` draws the values a template can name (the
entity's word as people type it, its handle in the platform's form, products,
durations, order and ticket numbers, links, hashtags, emoji), `_text` picks a
template of the post's kind (complaint by topic, outage, question, praise,
sarcasm, news, another language) and fills it, `_decorate` adds the
platform's habits (hashtags and links on social networks, flair on Reddit).

The cut is here because this is the only code that reads the templates of
`earful.demo_templates` for a post's text, and it is a pure function of the
RNG it is passed: the hour bucket (`earful.demo_hour`) owns the RNG and
decides which post comes next, and the order of the draws made here is part
of the stream's determinism.
"""

from __future__ import annotations

import random
import re
import string
from datetime import datetime

from earful.demo_cast import SOCIAL, Entity
from earful.demo_templates import (
    AMOUNTS,
    CITIES,
    CLOSERS,
    COMPLAINTS,
    DAYS,
    DURATIONS,
    FEATURES,
    FOREIGN,
    FOREIGN_DURATIONS,
    MINUTES,
    MONTHS,
    NEG_EMOJI,
    NEUTRAL,
    NEWS,
    OTHERS,
    OUTAGE,
    POS_EMOJI,
    PRAISE,
    PRODUCTS,
    QUESTIONS,
    REDDIT_FLAIR,
    SARC_EMOJI,
    SARCASM,
    SHORT,
)


def _slots(rng: random.Random, ent: Entity, platform: str, hour: datetime) -> dict[str, str]:
    words = ent.words
    word = words[0] if len(words) == 1 or rng.random() < 0.75 else rng.choice(words[1:])
    b = word if rng.random() < 0.85 else (word.lower() if rng.random() < 0.7 else word.upper())
    h = ent.handle
    if platform == "mastodon":
        h = f"{h}@mastodon.social"
    elif platform == "bluesky":
        h = f"{h}.bsky.social"
    elif platform not in SOCIAL:
        h = f"{b},"  # forums and news do not @-address accounts
    tag_root = ent.slug
    tags = (f"#{tag_root}fail", f"#{tag_root}down", "#customerservice", "#fail", "#outage")
    site = f"https://{ent.slug}.example"
    path = rng.choice(("blog", "news", "changelog", "careers", "docs", "help"))
    return {
        "b": b,
        "h": h,
        "p": rng.choice(PRODUCTS),
        "f": rng.choice(FEATURES),
        "d": rng.choice(DURATIONS),
        "m": rng.choice(MINUTES),
        "s": rng.choice(SHORT),
        "day": rng.choice(DAYS),
        "month": rng.choice(MONTHS),
        "city": rng.choice(CITIES),
        "amt": rng.choice(AMOUNTS),
        "amt2": rng.choice(AMOUNTS),
        "order": f"#{rng.choice(string.ascii_uppercase)}{rng.randint(10000, 99999)}",
        "ticket": f"ticket #{rng.randint(100000, 999999)}",
        "link": f"{site}/{path}/{hour:%Y}/{rng.randint(100, 999)}",
        "sl": f"https://status.{ent.slug}.example",
        "tag": rng.choice(tags),
        "neg": rng.choice(NEG_EMOJI),
        "pos": rng.choice(POS_EMOJI),
        "sarc": rng.choice(SARC_EMOJI),
        "other": rng.choice(OTHERS),
        "years": str(rng.randint(2, 9)),
        "d_de": rng.choice(FOREIGN_DURATIONS["de"]),
        "d_es": rng.choice(FOREIGN_DURATIONS["es"]),
        "d_fr": rng.choice(FOREIGN_DURATIONS["fr"]),
    }


def _text(rng: random.Random, kind: str, slots: dict[str, str]) -> tuple[str, str, str | None]:
    """(text, intent-ish kind, topic or language)."""
    topic: str | None = None
    lang = "en"
    if kind == "complaint":
        topic = rng.choice(sorted(COMPLAINTS))
        tpl = rng.choice(COMPLAINTS[topic])
        if rng.random() < 0.3 and not tpl.endswith("}"):
            tpl = f"{tpl} {rng.choice(CLOSERS)}"
    elif kind == "outage":
        topic, tpl = "outage", rng.choice(OUTAGE)
        kind = "complaint"
    elif kind == "question":
        tpl = rng.choice(QUESTIONS)
    elif kind == "praise":
        tpl = rng.choice(PRAISE)
    elif kind == "sarcasm":
        tpl = rng.choice(SARCASM)
    elif kind == "news":
        tpl = rng.choice(NEWS if rng.random() < 0.7 else NEUTRAL)
    elif kind == "foreign":
        lang = rng.choices(("de", "es", "fr", "ja", "pt", "it"), (3, 3, 3, 2, 1, 1))[0]
        tpl = rng.choice(FOREIGN[lang])
    else:
        tpl = rng.choice(NEUTRAL)
    text = re.sub(r"\s+([.,!?])", r"\1", tpl.format(**slots)).strip()
    return re.sub(r" {2,}", " ", text), kind, topic if lang == "en" else lang


def _decorate(
    rng: random.Random, ent: Entity, kind: str, platform: str, text: str, slots: dict[str, str]
) -> str:
    """Platform habits: hashtags and links on social networks, flair-like prefixes on Reddit."""
    if platform in SOCIAL:
        if kind in ("complaint", "outage", "sarcasm") and rng.random() < 0.15:
            text = text if "#" in text else f"{text} {slots['tag']}"
        elif kind == "praise" and rng.random() < 0.15:
            text = f"{text} #{ent.slug.capitalize()}Cloud"
        if rng.random() < 0.06 and "http" not in text:
            text = f"{text} {slots['link']}"
    elif platform == "reddit" and kind in REDDIT_FLAIR and rng.random() < 0.4:
        text = f"{rng.choice(REDDIT_FLAIR[kind])} {text}"
    return text

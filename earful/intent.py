"""Intent, needs-reply and priority for one mention, beyond VADER.

VADER scores tone, not intent: "thanks for losing my bag" is positive to it
and "on hold for two hours" is neutral. Here general customer-service
language (requests for help, waits and delays, things lost, broken or
cancelled, money problems, outages, negated help, sarcastic thanks, questions
to the brand, praise) is matched with compiled regexes, and VADER's compound
is one input among them. The word lists are ordinary English knowledge of how
customers write to support accounts; none is derived from a benchmark set.

A complaint is a negative evaluation aimed at an organisation, its product,
service or staff (Olshtain & Weinbach; Preotiuc-Pietro et al. 2019), so
`_decide` separates target-directed service failures from personal venting:
a post with a target (the brand's account via `addressed`, "you/your", a
product/service noun, or a cue only a service has such as "on hold" or
"refund") adds all its evidence, bad mood included; a post without one counts
only named service failures, and its bad mood, negations and vague trouble
words ("problem", "still", "why ...") count for nothing.

How it stays cheap enough to run on every mention: single-word cues are
lookups, and a phrase regex runs only when one of its key words occurs in the
text (`Signal.keys`, checked against 4-letter stems) and a stricter condition
read off the regex holds; tokens, chunks of text and the decision's parts that
do not depend on VADER's scores are cached (see "How signals() stays cheap").
Measured by bench/triage.py against plain VADER in the same run (CPU time):
on bench/ingest.py's posts classify costs about 12-13 us per post (0.35 of
VADER's cost) when every post carries a chunk never seen before (its "(#n)"),
about 8-9 us (0.22-0.26) on posts seen before; on the airline tweets about
34-37 us at first sight with empty caches (the plain method took about 30)
and 15-17 us once seen (0.3). It runs on top of the Scorer's VADER pass.

Thresholds (`COMPLAINT_AT`, `NEG_TONE`, `POS_TONE`, `NEG_SHARE`,
`ASKS_ABOUT_PROBLEM`) and the choice to give an untargeted bad mood no weight
were checked against aggregate bench figures (never individual rows), so the
bench numbers are somewhat optimistic for other data.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from earful.models import as_utc

__all__ = ["Triage", "band_for", "classify", "signals"]


@dataclass(frozen=True, slots=True)
class Triage:
    intent: str  # complaint | question | praise | other
    needs_reply: bool
    reason: str
    priority: float  # 0..100, see band_for


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


_KEY_LEN = 4


def _key(k: str) -> str:
    """A prefilter key: the first word of k cut to _KEY_LEN characters.

    Tokens of the text are cut the same way, so "disappointed" hits "disa" and a
    shorter key ("no", "bug") only hits that exact token.
    """
    return k.split()[0][:_KEY_LEN]


def _spaced(pattern: str) -> str:
    """The pattern for spaced text: each top-level alternative's leading \\b becomes a space.

    `normalise` puts exactly one space around every token, so " word" marks a
    word start. A pattern opening with a literal lets the regex engine skip
    ahead by that character; an opening \\b makes a search several times slower.
    """
    out: list[str] = []
    depth, i, start = 0, 0, True
    while i < len(pattern):
        if start and pattern.startswith("\\b", i):
            out.append(" ")
            i += 2
        start = False
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        start = c == "|" and depth == 0
        out.append(c)
        i += 1
    return "".join(out)


def _top(pattern: str) -> list[str]:
    """pattern split at its top-level "|" (outside groups and classes)."""
    parts: list[str] = []
    depth, i, start, in_class = 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _one_group(alt: str) -> bool:
    """Whether alt is exactly `\\b(?:...)\\b`, one group from the first "(" to the last ")"."""
    if not (alt.startswith("\\b(?:") and alt.endswith(")\\b")):
        return False
    depth, i = 0, 2
    while i < len(alt):
        c = alt[i]
        if c == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return i == len(alt) - 3
        i += 1
    return False


_WORD_ALT = re.compile(r"[a-z]+")
_PLURAL_ALT = re.compile(r"([a-z]+)s\?")
_PREFIX_ALT = re.compile(r"([a-z]{4,})\\w\*")
_LEAD = re.compile(r"(?:\\b)?([a-z]+)([ ?*+{(\\]|$)")


def _words_out(pattern: str) -> tuple[set[str], list[str], str]:
    """(words, prefixes, rest): single-word alternatives of `\\b(?:a|b|c*)\\b` groups
    taken out of the pattern (a set lookup is far cheaper than a regex scan)."""
    words: set[str] = set()
    prefixes: list[str] = []
    rest: list[str] = []
    for alt in _top(pattern):
        if not (_one_group(alt) and len(_top(alt[5:-3])) > 1):
            rest.append(alt)
            continue
        inner: list[str] = []
        for a in _top(alt[5:-3]):
            if _WORD_ALT.fullmatch(a):
                words.add(a)
            elif m := _PLURAL_ALT.fullmatch(a):
                words.update((m[1], m[1] + "s"))
            elif m := _PREFIX_ALT.fullmatch(a):
                prefixes.append(m[1])
            else:
                inner.append(a)
        if inner:
            rest.append("\\b(?:" + "|".join(inner) + ")\\b")
    return words, prefixes, "|".join(rest)


def _auto_keys(pattern: str) -> frozenset[str] | None:
    """Prefilter keys from the leading word of every alternative, or None if one has none."""
    keys: set[str] = set()
    for alt in _top(pattern):
        if _one_group(alt):
            alts = _top(alt[5:-3])
        else:
            alts = [alt]
        for a in alts:
            m = _LEAD.match(a)
            if not m:
                return None
            word = m[1] if m[2] in (" ", "", "\\") else m[1][:-1]
            if len(word) < _KEY_LEN and m[2] not in (" ", "") and not a.startswith(word + "\\b"):
                return None  # a short word with a suffix: only the hand-written keys are safe
            keys.add(word[:_KEY_LEN])
    return frozenset(keys)


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


# Building blocks (the text is lowercased and apostrophes dropped first).
_NUM = (
    r"(?:\d+(?:\.\d+)?\+?|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|forty (?:- )?five|fifty|sixty|ninety|a few|a couple(?: of)?|"
    r"several|many|multiple|countless)"
)
_UNIT = r"(?:hours?|hrs?|h|minutes?|mins?|days?|weeks?|wks?|months?)"
_NEG_AUX = (
    r"(?:not|never|isnt|arent|wasnt|werent|doesnt|dont|didnt|wont|cant|cannot|couldnt|"
    r"hasnt|havent|hadnt|unable to|still not|still cant)"
)
_BAD_VERB = (
    r"(?:losing|lost|ruining|ruined|delaying|delayed|cancel+ing|cancel+ed|stranding|stranded|"
    r"wasting|ignoring|ignored|leaving|breaking|broke|charging|overcharging|screwing|messing|"
    r"keeping me (?:on hold|waiting)|making me (?:wait|miss)|nothing|the delay|the wait|the runaround|"
    r"another delay|yet another|(?:the|my) (?:delayed|cancel+ed|lost|broken|damaged|missing))"
)
_DURATION_KEYS = "hour|hr|hrs|min|mins|minu|day|days|week|wk|wks|month|h"

SIGNALS: tuple[Signal, ...] = (
    # Waiting and delays: a duration in a waiting context, "still waiting", the nth attempt.
    _sig(
        "wait",
        "{m}",
        1.2,
        rf"\b(?:on hold|wait(?:ed|ing)?|for|over|after|nearly|almost|another|been|sat|sitting|stuck|"
        rf"delayed|late|than|hold)\s+(?:for\s+)?(?:over\s+|nearly\s+|almost\s+|about\s+)?"
        rf"{_NUM}\s*{_UNIT}\b|\b{_NUM}\s*{_UNIT}\s+(?:later|late|delay\w*|wait\w*|on hold|"
        rf"and counting|now|already|behind|on the phone|in line|on the tarmac)\b",
        _DURATION_KEYS,
    ),
    _sig("wait", "on hold", 1.0, r"\b(?:on hold|hold music|holding for|hold times?)\b", "hold"),
    _sig(
        "wait",
        "still waiting",
        1.0,
        r"\bstill (?:waiting|no\b|not\b|nothing|havent|hasnt|ha(?:ve|s|d) not|cant|dont|doesnt|wont|stuck|"
        r"on hold|sitting|broken|missing|charged|unable)",
        "still",
    ),
    _sig(
        "wait",
        "repeated attempts",
        1.0,
        r"\b(?:\d+ ?(?:st|nd|rd|th)|second|third|fourth|fifth|sixth|tenth)\s+(?:day|time|call|attempt|"
        r"week|email|request|try|flight|visit|message|complaint)\b|\b(?:yet|once) again\b|"
        r"\bevery (?:single )?time\b|\b(?:for|over) (?:hours|days|weeks|months|ages)\b|"
        r"\b(?:hours|days|weeks) later\b|\ball (?:day|night|morning)\b|\band counting\b",
        "st |nd |rd |th |second|third|fourth|fifth|sixth|tenth|again|every|hours|days|weeks|"
        "months|ages|all |counting",
    ),
    _sig(
        "wait",
        "delay",
        1.0,
        r"\b(?:delay(?:s|ed)?|late|stranded|stuck|missed (?:my|our|the|a) (?:connection|flight|"
        r"train|appointment|delivery)|overbooked|bumped|diverted|no updates?|no (?:word|news|eta)|"
        r"yet to (?:receive|hear|get|arrive)|never (?:arrived|received|came|showed|delivered|"
        r"got)|(?:hasnt|havent|didnt|did not|has not|have not) (?:arrived|come|shipped|"
        r"been (?:delivered|shipped|refunded|fixed|resolved)|received|heard|got))\b",
        "delay|late|strand|stuck|missed|overbook|bumped|divert|updates|word|news|eta|yet|arrived|"
        "received|came|showed|delivered|got|come|shipped|been|heard",
    ),
    _sig(
        "wait",
        "asks where their order is",
        1.0,
        r"\b(?:where(?:s| is| are) (?:my|our|the)|what happened to (?:my|our)|what about (?:my|our)|"
        r"when (?:will|can|do|am|are|should) (?:i|we) (?:get|receive|see|hear|be (?:refunded|"
        r"reimbursed|compensated))|when (?:will|is) (?:my|our|the) \w+ (?:be |get )?(?:arrive|"
        r"arriving|here|delivered|ready|fixed|back|refunded|processed|shipped|resolved))\b",
        "where|what happened|what about|when ",
    ),
    # Things that went wrong.
    _sig(
        "problem",
        "lost or missing",
        1.2,
        r"\b(?:lost|losing|loses|missing|misplaced|stolen|disappeared|vanished|left behind|"
        r"didnt make it)\b",
        "lost|losing|loses|missing|misplaced|stolen|disappear|vanish|left behind|didnt make",
    ),
    _sig(
        "problem",
        "broken or damaged",
        1.2,
        r"\b(?:broken|broke|damaged|smashed|cracked|ripped|torn|defective|faulty|dented|leaking|"
        r"leaks|spoiled|stale|moldy|mouldy|expired|stained|scratched|shattered|dirty|filthy|"
        r"cold food|smell\w*|stinks?)\b",
        "brok|damag|smash|crack|rip|torn|defect|fault|dent|leak|spoil|stale|mold|mould|expired|"
        "ripp|stain|scratch|shatter|dirty|filthy|cold food|smell|stink",
    ),
    _sig("problem", "cancelled", 1.0, r"\bcancel+(?:ed|ing|ation|ations|s)?\b", "cancel"),
    _sig(
        "problem",
        "money problem",
        1.0,
        r"\b(?:charged (?:me )?(?:twice|double|two times|again|for)|double (?:- )?charged|overcharg\w*|"
        r"refund\w*|reimburs\w*|compensat\w*|money back|chargeback|(?:billing|payment) "
        r"(?:error|issue|problem)|hidden fees?|extra (?:fees?|charges?)|fees?|charges?)\b",
        "charge|overch|money|refund|reimburs|compensat|money back|billing|payment|fee|fees",
    ),
    _sig(
        "problem",
        "not working or not done",
        1.2,
        rf"\b{_NEG_AUX}\s+(?:\w+\s+)?(?:work\w*|load\w*|open\w*|connect\w*|log ?in|login|"
        r"sign ?in|access\w*|start\w*|turn on|charg\w*|sync\w*|updat\w*|download\w*|send\w*|"
        r"receiv\w*|get through|reach\w*|book\w*|check ?in|print\w*|play\w*|stream\w*|pay|"
        r"order\w*|track\w*|respond\w*|reply|replied|answer\w*|help\w*|fix\w*|show\w* up|"
        r"deliver\w*|arriv\w*|accept\w*|function\w*|recogni[sz]\w*|verify|redeem\w*|apply|applied)\b",
        "not|never|isnt|arent|wasnt|werent|doesnt|dont|didnt|wont|cant|cannot|couldnt|hasnt|"
        "havent|hadnt|unable",
        also="work|load|open|connect|log|login|sign|access|start|turn|charge|sync|update|download|"
        "send|receive|get|reach|book|check|print|play|stream|pay|order|track|respond|reply|answer|"
        "help|fix|fixed|fixing|show|deliver|arrive|accept|function|recognise|recognize|verify|"
        "redeem|apply|applied|replied",
    ),
    _sig(
        "problem",
        "outage or error",
        1.2,
        r"\b(?:outage|outages|offline|(?:is|are|was|went|still|been|site|app|service|system|"
        r"servers?|website) down|error\w*|crash\w*|bugs?|buggy|glitch\w*|freez\w*|frozen|"
        r"fail\w*|disconnect\w*|dropp(?:ed|ing) (?:calls?|out|connection)|keeps? \w+ing|"
        r"no (?:service|signal|internet|wifi|wi - fi|power|connection|coverage|network|heat|"
        r"hot water|access))\b",
        "outage|offline|down|error|crash|bug|bugs|bugg|glitch|freez|frozen|fail|disconnect|dropp|keep|"
        "keeps|service|signal|internet|wifi|wi|power|connection|coverage|network|heat|hot|access",
    ),
    _sig(
        "problem",
        "wrong or denied",
        1.0,
        r"\b(?:wrong|incorrect|mistake|denied|declined|rejected|refused|locked out|hacked|"
        r"unauthori[sz]ed|fraud\w*|scam\w*|rip ?off|rip - off|ripped off|misleading|false advertising|"
        r"overbook\w*|no show|didnt show|never showed|rebook\w*|reschedul\w*)\b",
        "wrong|incorrect|mistake|denied|declined|rejected|refused|locked|hacked|unauthori|fraud|"
        "scam|rip|ripo|ripp|mislead|false|overbook|show|rebook|reschedul",
    ),
    _sig(
        "problem",
        "problem reported",
        0.8,
        r"\b(?:issues?|problems?|complain\w*|trouble|nightmare|disaster|mess|hassle|headache|"
        r"inconvenien\w*|unresolved|escalat\w*|promised)\b|"
        r"\b(?:supposed to|(?:was|were) told|should(?:nt| not)? have|not (?:even|acceptable)|"
        r"so much for)\b",
        "issue|problem|complain|trouble|nightmare|disaster|mess|hassle|headache|inconvenien|"
        "unresolved|escalat|supposed|told|promised|should|shouldnt|even|acceptable|much",
    ),
    _sig(
        "emotion",
        "strong dissatisfaction",
        1.2,
        r"\b(?:terrible|horrible|horrendous|awful|worst|rude|ridiculous|unacceptable|disgusting|"
        r"disgrace\w*|pathetic|appalling|shocking|shameful|incompetent|unprofessional|joke|"
        r"poor|lousy|crap|crappy|sucks?|sucked|garbage|trash|rubbish|fed up|sick of|tired of|"
        r"done with|never again|disappoint\w*|frustrat\w*|annoy\w*|angry|furious|upset|livid|"
        r"wtf|seriously|smh|ugh|unbelievable|absurd|insane|outrageous|hate|kidding|"
        r"come on|worse|unhappy|dissatisfied|unsatisfied|pissed|unimpressed|"
        r"expected better|waste of (?:time|money)|wasted|lied|lying|liars?|cant believe)\b|"
        r"\breally \?",
        "terribl|horrib|horrend|awful|worst|rude|ridicul|unaccept|disgust|disgrace|pathetic|"
        "appall|shock|shame|incompet|unprofession|joke|poor|lousy|crap|suck|garbage|trash|"
        "rubbish|fed up|sick of|tired of|done with|never again|disappoint|frustrat|annoy|angry|"
        "furious|upset|livid|wtf|serious|smh|ugh|unbeliev|absurd|insane|outrag|hate|kidding|"
        "come on|really?|worse|unhappy|dissatisfied|unsatisfied|pissed|impressed|expected|"
        "waste|wasted|lied|lying|liar|liars|believe",
    ),
    _sig(
        "problem",
        "asks why it went wrong",
        0.8,
        r"\bwhy (?:is|are|was|were|does|do|did|cant|wont|would|has|have|hasnt|havent|isnt|"
        r"arent|doesnt|dont|didnt|the hell|on earth|is it|not|no)\b|\bwhat(?:s| is) going on\b|"
        r"\bwhat happened\b|\bhow (?:hard|difficult) (?:is it|can it be)\b|\bhow (?:come|long)\b|"
        r"\bhow (?:can|could|do|does|dare) (?:you|your|they|a company)\b",
        "why|going on|happened|how ",
    ),
    _sig(
        "problem",
        "will leave",
        1.0,
        r"\b(?:switch(?:ing)? to|moving to|never (?:fly\w*|shop\w*|buy\w*|us\w*|order\w*|"
        r"com\w*) (?:with|from|at|here|again)|lost (?:a|another) customer|cancel(?:l?ing)? my "
        r"(?:account|subscription|membership|contract|order))\b",
        "switch|moving|never|lost|cancel",
    ),
    _sig(
        "problem",
        "about the staff",
        0.5,
        r"\b(?:customer (?:service|care|support)|cust serv\w*|agents?|reps?|representatives?|staff|"
        r"crew|attendants?|employees?|supervisor|manager|call (?:center|centre)|operator|"
        r"driver|cashier|gate agent|support team|help ?desk|hotline|phone line)\b",
        "customer|cust|agent|agents|rep|reps|representative|representatives|staff|crew|flight|"
        "attendant|attendants|employee|employees|supervisor|manager|call|operator|driver|cashier|"
        "gate|support|help|helpdesk|hotline|phone",
    ),
    _sig(
        "problem",
        "about their own order",
        0.5,
        r"\bmy (?:bags?|luggage|baggage|suitcase|order|package|parcel|delivery|account|card|refund|"
        r"booking|reservation|ticket|flight|connection|seat|phone|internet|bill|payment|money|"
        r"points|miles|voucher|claim|case|item|car|stuff|belongings|stroller|wheelchair|pet)\b",
        "my",
    ),
    _sig(
        "wait",
        "queues",
        0.6,
        r"\b(?:lines?|queues?|queuing|queueing)\b",
        "line|lines|queue|queues|queuing|queueing",
    ),
    _sig(
        "wait",
        "chasing it up",
        0.6,
        r"\b(?:any (?:update|news|word)|follow(?:ing)? ?up|chas(?:e|ing)|(?:case|ticket|reference|"
        r"complaint|claim|tracking) (?:number|no|#)|(?:called|emailed|messaged|tweeted|dmd|"
        r"contacted|phoned|rang|chatted)|how many (?:more )?times)\b",
        "update|news|word|follow|following|followup|chase|chasing|case|ticket|reference|complaint|"
        "claim|tracking|called|emailed|messaged|tweeted|dmd|contacted|phoned|rang|chatted|many",
    ),
    _sig(
        "wait",
        "still unresolved",
        0.5,
        r"\b(?:still|again|at all|whatsoever|sitting (?:here|on|at|in))\b",
        "still|again|at|whatsoever|sitting",
    ),
    _sig(
        "problem",
        "asks if others have the problem",
        1.0,
        r"\b(?:any ?(?:one|body) else (?:having|getting|seeing|experiencing|with|had|got)|"
        r"is (?:it|this) (?:just me|normal|supposed)|any reason why|whats (?:up|happening|wrong) "
        r"with|what is (?:up|happening|wrong) with|is something wrong)\b",
        "any|anyone|anybody|is|whats|what",
        also="else|just|normal|supposed|reason|up|happening|wrong|something",
    ),
    _sig(
        "problem",
        "polite but",
        0.8,
        r"\b(?:thanks?|thank you|thx|appreciate\w*|great|nice|love|good|ok|okay|fine)\b"
        r"[^.!?]{0,60}\b(?:but|however|though|although|except)\b",
        "thank|thanks|thx|ty|appreciate|great|nice|love|good|ok|okay|fine",
        also="but|however|though|although|except",
    ),
    # Something that used to work or was expected and is not there (general wording).
    _sig(
        "problem",
        "stopped or unavailable",
        1.0,
        r"\b(?:stopped (?:working|loading|charging|syncing|responding|sending|showing)|"
        r"no longer (?:\w+)|(?:work|works|working|load|loads|open|opens) any ?more|"
        r"out of stock|sold out|unavailable|discontinued|(?:wont|doesnt|didnt) let me|"
        r"without (?:any )?(?:notice|warning|notification|explanation|telling)|"
        r"no (?:email|confirmation|notification|explanation|apology|refund|compensation|"
        r"callback|follow ?up)|(?:wasnt|werent|never) (?:told|informed|notified)|"
        r"(?:not|never|didnt|havent|hasnt) (?:yet )?(?:been )?(?:received|refunded|credited|"
        r"compensated|contacted|notified))\b",
        "stopped|no|work|works|working|load|loads|open|opens|out|sold|unavailable|discontinued|"
        "wont|doesnt|didnt|without|wasnt|werent|never|not|havent|hasnt",
    ),
    _sig(
        "emotion",
        "not happy with it",
        1.0,
        r"\b(?:not|never|isnt|wasnt) (?:very |at all |too |so |that |really )?(?:happy|impressed|"
        r"pleased|satisfied|good enough|ok|okay|acceptable|fair|right|good|great|cool|fun|nice)\b|"
        r"\b(?:too|so|very|really|ridiculously|painfully) (?:slow|expensive|long|late|hard|"
        r"difficult|complicated|confusing|pricey)\b|\b(?:overpriced|slowest|slow)\b",
        "not|never|isnt|wasnt|too|so|very|really|ridiculously|painfully|overpriced|slowest|slow",
    ),
    # Faults of food, clothes, devices and software, in everyday words.
    _sig(
        "problem",
        "product fault",
        1.0,
        r"\b(?:undercooked|overcooked|raw|burnt|burned|soggy|tasteless|bland|greasy|inedible|"
        r"shrunk|shrank|faded|frayed|fell apart|falling apart|came apart|came off|(?:has|had|with) "
        r"(?:a )?holes?|poor quality|cheaply made|bad quality|low quality|doesnt fit|didnt fit|"
        r"overheat\w*|drains?|draining|bricked|(?:wont|doesnt|didnt) (?:turn on|charge|boot|"
        r"start|pair|print|scan)|laggy|lagging|unusable|deleted|wiped|logged me out|"
        r"keeps? (?:logging|signing|kicking) me out|dropped calls?|no signal|slow (?:speeds?|"
        r"internet|connection|wifi|service|delivery|response)|forgot|forgotten|left out)\b",
        "undercooked|overcooked|raw|burnt|burned|soggy|tasteless|bland|greasy|inedible|shrunk|"
        "shrank|faded|frayed|fell|falling|came|has|had|with|poor|cheaply|bad|low|doesnt|didnt|"
        "overheat|drain|drains|draining|bricked|wont|laggy|lagging|unusable|deleted|wiped|logged|"
        "keep|keeps|dropped|no|slow|forgot|forgotten|left",
    ),
    # A change for the worse: what customers ask to have back.
    _sig(
        "problem",
        "change for the worse",
        1.0,
        r"\b(?:bring (?:it |them |back )?back|change it back|used to be|got rid of|"
        r"(?:why|how come) (?:did|would|do) (?:you|they) (?:change|remove|stop|drop|discontinue|"
        r"get rid|take away|raise|increase|cut)|(?:removed|took away|taken away|took out) the|"
        r"(?:smaller|shrinking|worse) than (?:before|it used|they used|last)|"
        r"(?:raised|increased|hiked) (?:the |your |their )?(?:price|prices|fees?|rates?))\b",
        "bring|change|used|got|why|how|removed|took|taken|smaller|shrinking|worse|raised|"
        "increased|hiked",
    ),
    # What a complaint is aimed at: an organisation, its products, services and
    # staff (weight 0; it decides whether a bad mood counts, see `_decide`).
    _sig(
        "target",
        "names a product or service",
        0.0,
        r"\b(?:company|companys|companies|business|brand|firm|provider|carrier|airline|airlines|"
        r"bank|shop|store|stores|branch|outlet|restaurant|hotel|airport|station|service|services|"
        r"customer|customers|support|helpline|order|orders|ordered|delivery|deliveries|delivered|"
        r"shipping|shipment|package|parcel|courier|item|items|product|products|purchase|"
        r"purchased|bought|subscription|membership|account|accounts|app|apps|website|site|"
        r"online|checkout|payment|payments|bill|bills|billing|invoice|receipt|plan|contract|"
        r"tariff|price|prices|pricing|warranty|guarantee|repair|replacement|exchange|returns|"
        r"booking|booked|reservation|ticket|tickets|seat|seats|flight|flights|luggage|baggage|"
        r"train|trains|bus|buses|internet|broadband|wifi|network|router|modem|update|software|"
        r"version|device|devices|laptop|phone|tv|menu|manager|staff|employee|employees|"
        r"technician|engineer|cashier|car|insurance|claim|policy|upgrade|download|"
        r"login|password|server|servers|stock|shipped|refund|charge|charged|fee|fees)\b",
    ),
    # Negated help: the brand did not help.
    _sig(
        "nohelp",
        "no help",
        1.5,
        r"\b(?:no help|not (?:very |at all |even )?helpful|unhelpful|useless|no (?:one|body) "
        r"(?:\w+ )?(?:answers?|answering|helps?|helping|cares?|responds?|responding|picks? up|"
        r"calls? back|replies|knows)|nobody|no answer|no response|no reply|no call ?back|no "
        r"resolution|never (?:answer|respond|repl|call|get back)\w*|not (?:answering|responding|"
        r"replying)|ignor(?:ed|ing)|cant get (?:through|a hold|ahold|anyone|an answer)|hung up|"
        r"hang up|hanging up|(?:doesnt|dont|didnt) care|runaround|run around|transferred|"
        r"bounced around|passed around|no one)\b",
        "help|unhelp|useless|one|nobody|answer|response|reply|replies|call|resolution|respond|"
        "responding|replying|ignor|cant|hung|hang|care|run|runa|transferred|around|knows|picks",
    ),
    # Sarcastic thanks and praise that is really a complaint.
    _sig(
        "sarcasm",
        "sarcastic thanks",
        2.5,
        rf"\b(?:thanks?|thank you|thx|ty)(?: (?:so much|a lot|very much|again))? for {_BAD_VERB}"
        r"|\bthanks for nothing\b",
        "losing|lost|ruining|ruined|delaying|delayed|delay|cancel|stranding|stranded|wasting|"
        "ignoring|ignored|leaving|breaking|broke|broken|charging|overcharging|screwing|messing|"
        "keeping|making|nothing|wait|runaround|another|yet|damaged|missing",
        also="thank|thanks|thx|ty",
    ),
    _sig(
        "sarcasm",
        "sarcastic thanks",
        2.5,
        r"\b(?:great|nice|good|awesome|fantastic) (?:job|work|service|one)\b[^!?]{0,40}\bnot\b"
        r"|\blove (?:waiting|sitting|being (?:on hold|stuck|delayed|ignored|lied))"
        r"|\bjust what i needed\b|\boh (?:great|good|joy|wonderful|perfect)\b|\bway to go\b"
        r"|\bso (?:glad|happy) (?:that )?i (?:paid|waited|chose|spent)\b",
        "great|nice|good|awesome|fantastic|love|needed|oh|way|glad|happy",
    ),
    _sig(
        "sarcasm",
        "complaint hashtag",
        2.0,
        r"\b#(?:not|fail|epicfail|sarcasm|thanksfornothing|neveragain|worstservice|badservice|"
        r"customerservicefail|fail\w*)\b",
        "#not|#fail|#epicfail|#sarcasm|#thanksfornothing|#neveragain|#worstservice|#badservice|"
        "#customerservicefail",
    ),
    # Requests for help.
    _sig(
        "help",
        "asks for help",
        0.6,
        r"\b(?:need (?:some |your |urgent |immediate )?(?:help|assistance|support)|please help|"
        r"help (?:me|us|please|pls|plz)|can (?:someone|somebody|anyone|anybody)|could "
        r"(?:someone|somebody|anyone|you)|can you (?:please |pls |plz )?(?:help|fix|look|check|"
        r"tell|explain|sort|advise|assist|confirm|send|update|call|contact)|(?:please|pls|plz) "
        r"(?:fix|respond|reply|help|advise|call|dm|contact|look|check|sort|assist|get back|"
        r"let me know|send|update|resolve)|dm (?:me|us)|dmd|sent (?:you )?(?:a |an )?(?:dm|"
        r"message|email|e - mail)|(?:contact|call|email|message) me|get back to me|fix (?:this|it|"
        r"your)|sort (?:this|it) out|do (?:something|better)|what (?:are you|do you plan) "
        r"(?:going )?to do|who (?:do|can|should) i (?:contact|call|talk|speak|email))\b",
        "help|assistance|support|someone|somebody|anyone|anybody|could|fix|look|check|tell|"
        "explain|sort|advise|assist|confirm|send|update|call|contact|please|pls|plz|dm|dmd|sent|"
        "email|message|back|something|better|what|talk|speak",
    ),
    # Questions to the brand: a question mark or a question word opening a sentence.
    _sig("question", "asks a question", 1.0, r"\b\?", "?"),
    _sig(
        "question",
        "asks a question",
        1.0,
        r"\b(?:anyone|anybody) know\b|\bwondering\b|\bany (?:idea|update|news|word|info\w*|eta)\b"
        r"|\bis it possible\b|\b(?:want|need|like) to know\b",
        "anyone|anybody|wondering|any|possible|know",
    ),
    # Praise markers.
    _sig(
        "praise",
        "thanks or praise",
        1.0,
        r"\b(?:thanks?|thx|ty|love|loved|loving|awesome|amazing|great|excellent|"
        r"fantastic|brilliant|best|kudos|shout ?out|appreciate\w*|perfect|wonderful|helpful|"
        r"impressed|happy|pleased|glad|superb|outstanding|friendly|smooth|lovely|cheers|"
        r"well done|props)\b|\b(?:<3|:-?\))",
        "thank|thx|ty|love|lovi|awesome|amazing|great|excellent|fantastic|brilliant|best|kudos|shout|"
        "apprecia|perfect|wonderful|helpful|impressed|happy|pleased|glad|superb|outstanding|"
        "friendly|smooth|cheers|well done|props|<3|:)|:-)",
    ),
)

# Negations and frustration marks add to the evidence of a problem.
_NEGATIONS = frozenset(
    "not no never nothing nobody none cant wont dont didnt doesnt isnt arent wasnt werent "
    "havent hasnt hadnt couldnt wouldnt shouldnt cannot".split()
)
# A word of four or more capitals that is not part of a @handle or #hashtag.
_SHOUT = re.compile(r"[A-Z](?<![@#\w][A-Z])[A-Z]{3,}(?!\w)")
# A sentence that opens like a question, even without a question mark.
_Q_FIRST = frozenset("how what when where which who whom whose any anyone anybody".split())
_Q_PAIRS = frozenset(
    tuple(p.split())
    for p in (
        "is there|are there|is it|is this|is that|is my|are you|are my|do you|do i|do we|does it|"
        "does my|does the|did you|did my|can i|can you|can we|can my|could you|could i|will you|"
        "will i|will my|will there|would you|should i|should we|has anyone|have you|may i"
    ).split("|")
)
_LATER_QUESTION = re.compile(
    r"[.!] (?:(?:how|what|when|where|which|who|any|anyone|anybody) |(?:is|are) (?:there|it|this|my) |"
    r"(?:do|did|can|could|will|would|should) (?:you|i|we) |does (?:it|my|the) )"
)
QUESTION_FORM = Signal("question", "asks a question", 1.0, re.compile("(?!)"))
# In a post about a product or service, "not", "never", "no" mostly report something missing.
NEGATION = Signal("problem", "says not/never/no", 0.5, re.compile("(?!)"))
SHOUTING = Signal("emotion", "shouting (capitals, ?!)", 0.4, re.compile("(?!)"))
# Speaking to someone ("you", "your"): a complaint has a target, a bad mood does not.
TO_YOU = Signal("target", "speaks to the brand", 0.0, re.compile("(?!)"))
_YOU = frozenset("you your youre yours u ur yall youve youll".split())

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

_KINDS_COMPLAINT = ("wait", "problem", "nohelp", "sarcasm", "emotion")
_KINDS = (*_KINDS_COMPLAINT, "help", "question", "praise", "target")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`']")
_SPACED_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,:]\d+)*|[#@]\w+|<3|:-?\)|\S")

# How VADER's compound moves the complaint evidence, and where a complaint starts.
NEG_TONE = 1.0
POS_TONE = 0.3
COMPLAINT_AT = 0.8
ASKS_ABOUT_PROBLEM = 0.2
# VADER's share of negative words (0..1) adds to the mood: a mixed post ("love the
# app but the update broke login") has a positive compound and a real neg share.
NEG_SHARE = 1.0

# Cues that say something is wrong but not that a service failed ("not", "still",
# "problem", "why ..."): with a target they count, without one they are venting.
_VAGUE = frozenset(
    ("says not/never/no", "still unresolved", "problem reported", "asks why it went wrong")
)
# Cues only a product or service has: they are their own target.
_AIMED = frozenset(
    (
        "on hold",
        "asks where their order is",
        "money problem",
        "about the staff",
        "about their own order",
        "will leave",
        "sarcastic thanks",
        "complaint hashtag",
    )
)

INTENT_BASE = {"complaint": 40.0, "question": 28.0, "praise": 4.0, "other": 0.0}


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
#    set of fired signals (`_profile`).
# The caches start afresh when they reach _CACHE_SIZE entries.

# A requirement is a set of atoms: "\x02word" means a token equals word; any other
# string means a token starts with it; "\x01" means a token starts with a digit.
# While a regex is read, the current token's possible beginnings are "pending"
# strings; one ending in _CLOSED or _EXACT is complete (the token goes on with
# something unknown, or ends there).
_CLOSED = "\x00"
_EXACT = "\x02"
_DIGIT = "\x01"
_MAX_PENDING = 64  # more possible beginnings than this: keep what is known and close them
_MAX_STATES = 256  # more partial conditions than this: keep only what they share

_Node = tuple[Any, ...]
_Groups = frozenset[frozenset[str]]  # AND of OR-groups of atoms
_Pending = frozenset[str] | None  # None: the current token's beginning is unknown
_States = set[tuple[_Groups, _Pending]]


def _parse(p: str) -> tuple[list[list[_Node]], list[list[str]]]:
    """The top-level alternatives of regex p as node lists (the syntax the signals use),
    and each node's source text.

    Nodes: ("lit", char), ("cls", kind, chars) with kind space | mixed | chars |
    digit | word, ("alt", branches, their sources), ("rep", node, min, max) with
    max -1 for no limit, ("zero", "b" or "") for zero-width assertions.
    """
    pos = 0

    def alternatives() -> tuple[list[list[_Node]], list[str], list[list[str]]]:
        nonlocal pos
        branches: list[list[_Node]] = [[]]
        sources: list[list[str]] = [[]]
        start = pos
        spans: list[str] = []
        while pos < len(p) and p[pos] != ")":
            if p[pos] == "|":
                spans.append(p[start:pos])
                branches.append([])
                sources.append([])
                pos += 1
                start = pos
            else:
                begin = pos
                branches[-1].append(quantified(atom()))
                sources[-1].append(p[begin:pos])
        spans.append(p[start:pos])
        return branches, spans, sources

    def close_group() -> None:
        nonlocal pos
        if not p.startswith(")", pos):
            raise ValueError(f"unbalanced group in {p!r}")
        pos += 1

    def escape(e: str) -> _Node:
        if e == "b":
            return ("zero", "b")
        if e in "BAZ":
            return ("zero", "")
        kinds = {"s": "space", "d": "digit", "w": "word", "S": "word", "W": "mixed", "D": "mixed"}
        if e in kinds:
            return ("cls", kinds[e], frozenset())
        if e.isalnum():
            raise ValueError(f"unsupported escape \\{e} in {p!r}")
        return ("lit", e)

    def char_class() -> _Node:
        nonlocal pos
        pos += 1
        negated = p.startswith("^", pos)
        pos += negated
        chars: set[str] = set()
        kinds: set[str] = set()
        first = True
        while first or p[pos] != "]":
            first = False
            if p[pos] == "\\":
                node = escape(p[pos + 1])
                pos += 2
                if node[0] == "lit":
                    chars.add(node[1])
                else:
                    kinds.add(node[1])
            elif p[pos + 1] == "-" and p[pos + 2] != "]":
                chars.update(map(chr, range(ord(p[pos]), ord(p[pos + 2]) + 1)))
                pos += 3
            else:
                chars.add(p[pos])
                pos += 1
        pos += 1
        spaces = {c for c in chars if c.isspace()}
        if negated or "mixed" in kinds:
            return ("cls", "mixed", frozenset())
        if "space" in kinds or spaces:
            only = kinds <= {"space"} and spaces == chars
            return ("cls", "space" if only else "mixed", frozenset())
        if kinds:
            return ("cls", "digit" if kinds == {"digit"} and not chars else "word", frozenset())
        return (
            ("cls", "chars", frozenset(chars)) if len(chars) <= 8 else ("cls", "word", frozenset())
        )

    def atom() -> _Node:
        nonlocal pos
        c = p[pos]
        if c == "(":
            for opening in ("(?=", "(?!", "(?<=", "(?<!"):
                if p.startswith(opening, pos):
                    pos += len(opening)
                    alternatives()
                    close_group()
                    return ("zero", "")
            if p.startswith("(?:", pos):
                pos += 3
            elif p.startswith("(?", pos):
                raise ValueError(f"unsupported group in {p!r}")
            else:
                pos += 1
            inner, spans, _ = alternatives()
            close_group()
            return ("alt", inner, spans)
        if c == "[":
            return char_class()
        if c == "\\":
            pos += 2
            return escape(p[pos - 1])
        if c in "*+?{":
            raise ValueError(f"unexpected {c!r} in {p!r}")
        pos += 1
        if c == ".":
            return ("cls", "mixed", frozenset())
        return ("zero", "") if c in "^$" else ("lit", c)

    def quantified(node: _Node) -> _Node:
        nonlocal pos
        if pos >= len(p) or p[pos] not in "?*+{":
            return node
        c = p[pos]
        pos += 1
        if c == "{":
            end = p.index("}", pos)
            low, comma, high = p[pos:end].partition(",")
            pos = end + 1
            lo = int(low or 0)
            hi = lo if not comma else int(high) if high else -1
        else:
            lo, hi = {"?": (0, 1), "*": (0, -1), "+": (1, -1)}[c]
        if pos < len(p) and p[pos] in "?+":
            pos += 1  # lazy or possessive: the same texts match
        return ("rep", node, lo, hi)

    out, _, sources = alternatives()
    if pos != len(p):
        raise ValueError(f"unbalanced ) in {p!r}")
    return out, sources


def _complete(q: str) -> bool:
    return q.endswith((_CLOSED, _EXACT))


def _extend(pending: _Pending, chars: Iterable[str]) -> _Pending:
    if pending is None:
        return None
    out = frozenset(q if _complete(q) else q + c for q in pending for c in chars)
    return _close(out) if len(out) > _MAX_PENDING else out


def _close(pending: _Pending) -> _Pending:
    if pending is None:
        return None
    return frozenset(q if _complete(q) else q + _CLOSED for q in pending)


def _digit(pending: _Pending) -> _Pending:
    if pending is None:
        return None
    return frozenset(
        _DIGIT + _CLOSED if q == "" else q if _complete(q) else q + _CLOSED for q in pending
    )


def _word_end(pending: _Pending) -> _Pending:
    """At \\b: a run of ASCII letters from a token's start is the whole token
    (a token that starts with a letter is a maximal run of letters)."""
    if pending is None:
        return None
    return frozenset(
        q + _EXACT if q and not _complete(q) and q.isascii() and q.isalpha() else q for q in pending
    )


def _token_end(pending: _Pending) -> _Pending:
    """At a space: the token is exactly what was read since its start."""
    if pending is None:
        return None
    return frozenset(q + _EXACT if q and not _complete(q) else q for q in pending)


def _atom(q: str) -> str:
    return _EXACT + q[:-1] if q.endswith(_EXACT) else q.rstrip(_CLOSED)


def _minimal(atoms: Iterable[str]) -> frozenset[str]:
    """atoms without those another one implies ("hour" makes "hours" redundant)."""
    atoms = set(atoms)
    prefixes = [b for b in atoms if not b.startswith(_EXACT)]
    return frozenset(
        a for a in atoms if not any(b != a and a.lstrip(_EXACT).startswith(b) for b in prefixes)
    )


def _flush(groups: _Groups, pending: _Pending) -> _Groups:
    """groups and the current token's possible beginnings as one more OR-group."""
    if pending is None:
        return groups
    atoms = {_atom(q) for q in pending}
    if "" in atoms or _EXACT in atoms:
        return groups  # the token may begin with anything
    return groups | {_minimal(atoms)}


def _may_be_space(node: _Node) -> bool:
    kind = node[0]
    if kind == "lit":
        return bool(node[1].isspace())
    if kind == "cls":
        return node[1] in ("space", "mixed")
    if kind == "alt":
        return any(_may_be_space(n) for branch in node[1] for n in branch)
    return kind == "rep" and _may_be_space(node[1])


def _is_space(node: _Node) -> bool:
    return (node[0] == "lit" and node[1].isspace()) or node[:2] == ("cls", "space")


def _merged(states: _States) -> _States:
    """States with the same groups merged (their pending beginnings joined)."""
    by_groups: dict[_Groups, _Pending] = {}
    for groups, pending in states:
        if groups in by_groups:
            known = by_groups[groups]
            by_groups[groups] = None if known is None or pending is None else known | pending
        else:
            by_groups[groups] = pending
    if len(by_groups) <= _MAX_STATES:
        return set(by_groups.items())
    shared = frozenset.intersection(*by_groups)
    pendings = list(by_groups.values())
    if any(q is None for q in pendings):
        return {(shared, None)}
    return {(shared, frozenset().union(*(q for q in pendings if q is not None)))}


def _walk(states: _States, node: _Node) -> _States:
    """The states after node: each a possible (requirements so far, current token's beginnings)."""
    kind = node[0]
    if kind == "zero":
        return {(g, _word_end(q)) for g, q in states} if node[1] == "b" else states
    if _is_space(node):
        return {(_flush(g, _token_end(q)), frozenset({""})) for g, q in states}
    if kind == "lit":
        return {(g, _extend(q, node[1])) for g, q in states}
    if kind == "cls":
        if node[1] == "mixed":
            return {(_flush(g, q), None) for g, q in states}
        if node[1] == "chars":
            return {(g, _extend(q, node[2])) for g, q in states}
        if node[1] == "digit":
            return {(g, _digit(q)) for g, q in states}
        return {(g, _close(q)) for g, q in states}
    if kind == "alt":
        out: _States = set()
        for branch in node[1]:
            out |= _walk_all(states, branch)
        return _merged(out)
    inner, lo, hi = node[1], node[2], node[3]
    if hi == 0:
        return states
    once = _walk(states, inner)
    result = set(once) if lo >= 1 else states | once
    if hi != 1:  # more repetitions: same token continues (closed), or unknown after a space
        if _is_space(inner):
            result |= once
        elif not _may_be_space(inner):
            result |= {(g, _close(q)) for g, q in once}
        else:
            result |= {(_flush(g, q), None) for g, q in once}
    return _merged(result)


def _walk_all(states: _States, nodes: list[_Node]) -> _States:
    for node in nodes:
        states = _walk(states, node)
    return states


def _one_token(nodes: list[_Node]) -> bool:
    """Whether nodes read literal characters only: no space, class, assertion or loop."""
    for n in nodes:
        kind = n[0]
        if (kind == "lit" and n[1].isspace()) or kind == "zero":
            return False
        if kind == "cls" and n[1] != "chars":
            return False
        if kind == "alt" and not all(_one_token(b) for b in n[1]):
            return False
        if kind == "rep" and not (n[2] == 0 and n[3] == 1 and _one_token([n[1]])):
            return False
    return True


def _alternatives(pattern: str) -> list[tuple[list[_Node], str]]:
    """The top-level alternatives of the spaced pattern, each with its source; a group
    right after the leading space is split over its branches (" (?:a|b)c" gives
    " (?:a)c" and " (?:b)c": the same matches, tried in the same order)."""
    out: list[tuple[list[_Node], str]] = []
    for nodes, sources in zip(*_parse(pattern), strict=True):
        group = nodes[1] if len(nodes) > 1 and nodes[0] == ("lit", " ") else None
        if group and group[0] == "alt" and sources[1].startswith("(?:"):
            rest = "".join(sources[2:])
            for branch, source in zip(group[1], group[2], strict=True):
                out.append(([nodes[0], *branch, *nodes[2:]], f" (?:{source}){rest}"))
        else:
            out.append((nodes, "".join(sources)))
    return out


_Condition = tuple[_Groups, bool, frozenset[int]]


def _requirements(pattern: str) -> tuple[list[_Condition], list[str]] | None:
    """What every match of the spaced pattern needs, and the alternatives it was split
    into (see `_alternatives`). Each condition: (AND of OR-groups, exact, which
    alternatives need it); a match of one of those needs it to hold. Exact: it is
    also enough for a match. None for a pattern that never matches."""
    if pattern == "(?!)":
        return None
    needed: dict[_Groups, frozenset[int]] = {}
    exact: set[_Groups] = set()
    alternatives = _alternatives(pattern)
    for n, (alt, _) in enumerate(alternatives):
        found = {_flush(g, q) for g, q in _walk_all({(frozenset(), None)}, alt)}
        ends = alt[-1][:2] == ("zero", "b")
        body = alt[1:-1] if ends else alt[1:]
        if alt[0][:2] == ("lit", " ") and body and _one_token(body) and len(found) == 1:
            # one token right after a space: the condition is exact, unless \b had to
            # end a run that is not all letters.
            (groups,) = found
            if len(groups) == 1 and (not ends or all(a[0] == _EXACT for g in groups for a in g)):
                exact.add(groups)
                continue
        for groups in found:
            needed[groups] = needed.get(groups, frozenset()) | {n}
    conditions = [(g, False, alts) for g, alts in _simplified(needed)]
    conditions += [(g, True, frozenset()) for g in _sorted(exact)]
    return conditions, [source for _, source in alternatives]


def _sorted(conditions: Iterable[_Groups]) -> list[_Groups]:
    return sorted(conditions, key=lambda c: sorted(map(sorted, c)))


def _simplified(conditions: dict[_Groups, frozenset[int]]) -> list[tuple[_Groups, frozenset[int]]]:
    """The same OR of conditions with fewer terms: a weaker term absorbs a stronger one,
    and two that differ in one group become one with the groups joined (the
    alternatives that need them are joined too). Rounds of: every absorption, then
    every merge of a pair found through its shared part (a term minus one group)."""
    conditions = dict(conditions)
    while True:
        _absorb(conditions)
        shared: dict[_Groups, _Groups] = {}
        merged = False
        for a in _sorted(conditions):
            if a not in conditions:
                continue
            for g in sorted(a, key=sorted):
                rest = a - {g}
                b = shared.get(rest)
                if b is None or b not in conditions:
                    shared[rest] = a
                    continue
                (only_b,) = b - rest
                alts = conditions.pop(a) | conditions.pop(b)
                joined = rest | {_minimal(g | only_b)}
                conditions[joined] = conditions.get(joined, frozenset()) | alts
                merged = True
                break
        if not merged:
            return [(c, conditions[c]) for c in _sorted(conditions)]


def _absorb(conditions: dict[_Groups, frozenset[int]]) -> None:
    """Drop each term that implies another (it has all of the other's groups),
    giving its alternatives to that weaker term."""
    by_group: dict[frozenset[str], list[_Groups]] = {}
    for d in conditions:  # each term filed under one of its groups
        if d:
            by_group.setdefault(min(d, key=sorted), []).append(d)
    for c in sorted(conditions, key=lambda c: (len(c), sorted(map(sorted, c)))):
        if c not in conditions:
            continue
        empty: _Groups = frozenset()
        weaker: _Groups | None = empty if empty in conditions and c else None
        if weaker is None:
            weaker = next(
                (
                    d
                    for g in c
                    for d in by_group.get(g, ())
                    if d != c and d <= c and d in conditions
                ),
                None,
            )
        if weaker is not None:
            conditions[weaker] |= conditions.pop(c)


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
    """Whitespace-separated chunk of raw text -> its bits; its tokens and spaced
    text are kept alongside. `strip`: apostrophes are dropped (see `_tokens`)."""

    def __init__(self, strip: bool) -> None:
        super().__init__()
        self.strip = strip
        self.spaced: dict[str, str] = {}
        self.tokens: dict[str, list[str]] = {}

    def __missing__(self, chunk: str) -> int:
        if len(self) >= _CACHE_SIZE:  # start afresh; a scan holding this one finishes with it
            _CHUNKS[self.strip] = _Chunks(self.strip)
        if self.strip and not _APOSTROPHES.search(chunk):  # the same as without stripping
            plain = _CHUNKS[False]
            bits = self[chunk] = plain[chunk]
            self.spaced[chunk] = plain.spaced[chunk]
            self.tokens[chunk] = plain.tokens[chunk]
            return bits
        low = lowered = chunk.lower()
        if self.strip:
            low = _APOSTROPHES.sub("", low)
        if low.isascii() and low.isalpha():  # one token
            tokens = [low]
            bits = _TOKEN_BITS[low]
        else:
            tokens = _SPACED_TOKEN.findall(low)
            bits = reduce(operator.or_, map(_TOKEN_BITS.__getitem__, tokens), 0) & _NOT_FIRST_ONLY
            if tokens:
                bits |= _TOKEN_BITS[tokens[0]] & _FIRST_ONLY
            else:
                bits |= _F_EMPTY
        # No match of _SHOUT or "?!" spans whitespace, nor does what its lookarounds see;
        # _SHOUT needs a capital A-Z, which lower() changes.
        if ("?" in chunk and ("?!" in chunk or "!?" in chunk or "??" in chunk)) or (
            lowered != chunk and _SHOUT.search(chunk)
        ):
            bits |= _F_SHOUT
        self[chunk] = bits
        self.spaced[chunk] = " " + " ".join(tokens) if tokens else ""
        self.tokens[chunk] = tokens
        return bits


_TOKEN_BITS = _TokenBits()
_CHUNKS = {False: _Chunks(False), True: _Chunks(True)}


def _reset_caches() -> None:
    """Forget every cached chunk, token and profile (for benchmarks of first sight)."""
    _TOKEN_BITS.clear()
    _CHUNKS.update({False: _Chunks(False), True: _Chunks(True)})
    _PLANS.clear()
    _PROFILES.clear()


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
            if not cache[chunk] & _F_LEAD_EMPTY:
                break
            shout |= cache[chunk] & _F_SHOUT
            if not all(t[0] in "@.:," for t in cache.tokens[chunk]):
                return _scan_tokens(text)  # a chunk that is only partly dropped
            skip += 1
        chunks = chunks[skip:]
    info = reduce(operator.or_, map(cache.__getitem__, chunks), shout)
    first = cache[chunks[0]] >> _F if chunks else 0
    return _decode(info, first, chunks, cache.spaced, cache.tokens)


def _scan_tokens(text: str) -> tuple[int, int, dict[int, str]]:
    """`_scan` token by token (rare: a chunk whose leading tokens `_tokens` drops)."""
    tokens = _tokens(text)
    shout = reduce(operator.or_, map(_CHUNKS[False].__getitem__, text.split()), 0) & _F_SHOUT
    info = reduce(operator.or_, map(_TOKEN_BITS.__getitem__, tokens), shout) & _NOT_FIRST_ONLY
    first = _TOKEN_BITS[tokens[0]] >> _F if tokens else 0
    spaced = {t: " " + t for t in tokens}
    return _decode(info, first, tokens, spaced, {t: [t] for t in tokens})


# A text's bits -> what is left to do: (found so far, regexes to try as (guard bit,
# regex, its words show in the reason), extra bits so far, whether it may still be a
# question (1; _DOTBANG_ added when a later sentence may open like one)).
_Plan = tuple[int, tuple[tuple[int, re.Pattern[str], bool], ...], int, int]
_PLANS: dict[int, _Plan] = {}


def _plan(key: int) -> _Plan:
    x = key & _REGION
    y = key >> _Y & _REGION
    z = key >> _Z & _REGION
    flags = key >> _F
    found = z & _GUARDS
    run = x & (y | _NO_ALSO) & _RUNNABLE & ~found
    todo: list[tuple[int, re.Pattern[str], bool]] = []
    if run:
        held = x & y & z & _CONDS
        exact = ((held & _EXACT_CONDS) + _ONES) & run
        found |= exact
        left = ((held + _ONES) | _ALWAYS) & run & ~exact
        while left:
            bit = left & -left
            left ^= bit
            regex = SIGNALS[_GUARD_OF[bit.bit_length() - 1]].pattern
            todo.append((bit, regex, bool(bit & _M_GUARDS)))
    extra = 0
    if flags & _YOU_:
        extra |= 2
    if flags & _NEG_ALL_:
        extra |= min((flags & _NEG_ALL_).bit_count(), 2) << 2
    if flags & _SHOUT_:
        extra |= 16
    question = 0
    if not (flags & _QMARK_ or found & _QSIG):
        question = 1 | flags & _DOTBANG_
    if len(_PLANS) >= _CACHE_SIZE:
        _PLANS.clear()
    plan = _PLANS[key] = (found, tuple(todo), extra, question)
    return plan


def _decode(
    info: int,
    first: int,
    units: list[str],
    spaced: dict[str, str],
    tokens: dict[str, list[str]],
) -> tuple[int, int, dict[int, str]]:
    """What `_scan` returns, from the OR of the bits of units (chunks or tokens) and
    the flags of the first one."""
    found, todo, extra, question = _PLANS.get(info) or _plan(info)
    matched: dict[int, str] = {}
    low = ""
    if todo:
        low = "".join(map(spaced.__getitem__, units)) + " "
        for bit, regex, shown in todo:
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
                head = list(tokens[units[0]])
                for unit in units[1:]:
                    if len(head) >= 2:
                        break
                    head += tokens[unit]
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
    if extra & 1:
        out.append((QUESTION_FORM, ""))
    if extra & 2:
        out.append((TO_YOU, ""))
    out += [(NEGATION, "")] * (extra >> 2 & 3)
    if extra & 16:
        out.append((SHOUTING, ""))
    return out


def _label(s: Signal, matched: str) -> str:
    """The signal's label; "{m}" stands for the matched words (at most five)."""
    return s.label.replace("{m}", " ".join(matched.split()[:5])) if "{m}" in s.label else s.label


def _by_weight(fired: tuple[Signal, str]) -> float:
    return -fired[0].weight


_REASON_KINDS = {
    "complaint": frozenset(_KINDS_COMPLAINT),
    "question": frozenset(("help", "question")),
}
_PRAISE_KINDS = frozenset(("praise",))
_NO_SIGNAL = {"praise": "positive tone", "other": "no problem or request"}


def _labels(intent: str, fired: list[tuple[Signal, str]]) -> list[str]:
    """Up to four labels of the signals that explain intent, strongest first."""
    kinds = _REASON_KINDS.get(intent, _PRAISE_KINDS)
    labels: list[str] = []
    seen = ""
    for s, m in sorted(fired, key=_by_weight):  # strongest first; stable for equal weights
        if s.kind in kinds:
            lab = _label(s, m) if "{m}" in s.label else s.label
            if lab not in seen:  # "on hold" after "on hold 2 hours"
                labels.append(lab)
                seen += lab + "|"
                if len(labels) == 4:
                    break
    return labels


def _reason(intent: str, fired: list[tuple[Signal, str]], compound: float | None) -> str:
    """ "complaint: <up to four signals, strongest first>" and the tone when it helped."""
    labels = _labels(intent, fired)
    if intent == "complaint" and compound is not None and compound <= -0.05:
        labels.append(f"negative tone ({compound:+.2f})")
    if not labels:
        labels.append(_NO_SIGNAL.get(intent, "tone"))
    return intent + ": " + "; ".join(labels)


class _Reasons(dict[str, str]):
    """intent -> its reason without VADER's tone, made when first asked for;
    "tone" -> a complaint's reason up to its negative tone."""

    def __init__(self, fired: list[tuple[Signal, str]]) -> None:
        super().__init__()
        self.fired = fired

    def __missing__(self, intent: str) -> str:
        if intent == "tone":
            labels = _labels("complaint", self.fired)
            reason = "complaint: " + "".join(lab + "; " for lab in labels)
        else:
            reason = _reason(intent, self.fired, None)
        self[intent] = reason
        return reason


# What `_decide` and the reason need from the fired signals, VADER's scores aside:
# (failure, mood before tone, failure or vague, has a target, asks, sarcasm, praise,
#  help or question fired, reasons).
_Profile = tuple[float, float, bool, bool, bool, bool, bool, bool, _Reasons]


def _profile(fired: list[tuple[Signal, str]]) -> _Profile:
    weight = dict.fromkeys(_KINDS, 0.0)
    vague = 0.0
    targeted = False
    for s, _ in fired:
        weight[s.kind] += s.weight
        if s.label in _VAGUE:
            vague += s.weight
        if s.kind == "target" or s.label in _AIMED:
            targeted = True
    failure = weight["wait"] + weight["problem"] + weight["nohelp"] + weight["sarcasm"] - vague
    return (
        failure,
        weight["emotion"] + vague,
        bool(failure or vague),
        targeted,
        weight["question"] + weight["help"] > 0,
        bool(weight["sarcasm"]),
        bool(weight["praise"]),
        any(s.kind in ("help", "question") for s, _ in fired),
        _Reasons(fired),
    )


def _decide(
    fired: list[tuple[Signal, str]],
    compound: float | None,
    addressed: bool = False,
    neg: float | None = None,
) -> tuple[str, float]:
    """(intent, complaint evidence) from the fired signals and VADER's scores.

    A complaint is a negative evaluation aimed at someone: an organisation, its
    product, service or staff. A post with a target (the brand's account, "you",
    a product/service noun, or a cue that only a service has, like "on hold")
    adds up all its evidence, bad mood included. Without a target, a bad mood,
    negations and vague trouble words are personal venting and do not count;
    only named service failures do.
    """
    return _decide_profile(_profile(fired), compound, addressed, neg)


def _decide_profile(
    p: _Profile, compound: float | None, addressed: bool, neg: float | None
) -> tuple[str, float]:
    failure, mood, failure_or_vague, targeted, asks, sarcasm, praise = p[:7]
    comp = compound if compound is not None else 0.0
    targeted = addressed or targeted
    mood = mood - comp * (NEG_TONE if comp < 0 else POS_TONE)
    if neg is not None:
        mood += NEG_SHARE * neg
    if targeted:
        evidence = failure + mood
        if failure_or_vague and asks:
            evidence += ASKS_ABOUT_PROBLEM  # asking the brand about a named problem
    else:
        evidence = failure + min(mood, 0.0)  # a positive tone still counts against
    if sarcasm or evidence >= COMPLAINT_AT or (targeted and comp <= -0.3 and asks):
        return "complaint", evidence
    if asks:
        return "question", evidence
    if comp >= 0.05 or praise:
        return "praise", evidence
    return "other", evidence


def _fired(found: int, extra: int, matched: dict[int, str]) -> list[tuple[Signal, str]]:
    """The fired list `signals` returns, from `_scan`'s bits (words only where "{m}" shows them)."""
    out: list[tuple[Signal, str]] = []
    while found:  # guard positions grow with the signal's index
        bit = found & -found
        found ^= bit
        g = bit.bit_length() - 1
        out.append((SIGNALS[_GUARD_OF[g]], matched.get(g, "")))
    if extra & 1:
        out.append((QUESTION_FORM, ""))
    if extra & 2:
        out.append((TO_YOU, ""))
    out += [(NEGATION, "")] * (extra >> 2 & 3)
    if extra & 16:
        out.append((SHOUTING, ""))
    return out


_PROFILES: dict[object, _Profile] = {}


class _Tone(dict[float, str]):
    def __missing__(self, compound: float) -> str:
        if len(self) >= _CACHE_SIZE:
            self.clear()
        tone = self[compound] = f"negative tone ({compound:+.2f})"
        return tone


_TONE = _Tone()


def _recency(created_at: datetime | None, now: datetime | None) -> float:
    """0..10: 10 for a fresh post, halving every 6 hours; 5 when the age is unknown."""
    if created_at is None or now is None:
        return 5.0
    age_h = max(0.0, (as_utc(now) - as_utc(created_at)).total_seconds() / 3600.0)
    return 10.0 * 0.5 ** (age_h / 6.0)


def _reach(followers: int | None) -> float:
    """0..15 from the author's followers on a log scale (100k followers gives 15)."""
    if not followers or followers <= 0:
        return 0.0
    return min(15.0, 3.0 * math.log10(1 + followers))


def classify(
    text: str,
    compound: float | None,
    *,
    addressed: bool = False,
    followers: int | None = None,
    created_at: datetime | None = None,
    now: datetime | None = None,
    neg: float | None = None,
) -> Triage:
    """Intent, needs-reply, a human reason and a 0..100 priority for one text.

    `compound` (and optionally VADER's `neg` share) should come from the
    brand-masked text; `addressed` is whether the post names the brand's own
    account; `followers`, `created_at` and `now` feed reach and recency.
    """
    found, extra, matched = _scan(text)
    key: object = found << 5 | extra
    if matched:
        key = (key, *matched.values())
    p = _PROFILES.get(key)
    if p is None:
        if len(_PROFILES) >= _CACHE_SIZE:
            _PROFILES.clear()
        p = _PROFILES[key] = _profile(_fired(found, extra, matched))
    # _decide_profile, inline (this runs on every mention).
    failure, mood, failure_or_vague, targeted, asks, sarcasm, praise, help_or_q, reasons = p
    comp = compound if compound is not None else 0.0
    targeted = addressed or targeted
    mood = mood - comp * (NEG_TONE if comp < 0 else POS_TONE)
    if neg is not None:
        mood += NEG_SHARE * neg
    if targeted:
        evidence = failure + mood
        if failure_or_vague and asks:
            evidence += ASKS_ABOUT_PROBLEM
    else:
        evidence = failure + min(mood, 0.0)
    if sarcasm or evidence >= COMPLAINT_AT or (targeted and comp <= -0.3 and asks):
        intent = "complaint"
        needs_reply = True
        priority = INTENT_BASE[intent] + min(15.0, 5.0 * max(evidence, 0.0))
        if compound is not None and compound <= -0.05:
            reason = reasons["tone"] + _TONE[compound]
        else:
            reason = reasons[intent]
    else:
        intent = "question" if asks else "praise" if comp >= 0.05 or praise else "other"
        needs_reply = intent == "question" or (addressed and help_or_q)
        priority = INTENT_BASE[intent]
        reason = reasons[intent]
    negativity = max(0.0, -comp, 2.0 * neg if neg is not None else 0.0)
    priority += 15.0 * min(negativity, 1.0)
    priority += (12.0 if needs_reply else 3.0) if addressed else 0.0
    priority += (_reach(followers) if followers else 0.0) + (
        5.0 if created_at is None or now is None else _recency(created_at, now)
    )
    priority = max(0.0, min(100.0, priority))
    return Triage(intent, needs_reply, reason, round(priority, 1))


def band_for(priority: float) -> str:
    """urgent (>= 80), high (>= 50), normal (>= 20) or low."""
    if priority >= 80:
        return "urgent"
    if priority >= 50:
        return "high"
    if priority >= 20:
        return "normal"
    return "low"

"""The customer-service signals: one table of compiled regexes and the cue word lists.

Part of `earful.intent` (see its docstring for what each kind of signal means
to the decision). `SIGNALS` is the table: the waits, failures and moods of
`earful.intent_failures` first, then what a complaint is aimed at, negated
help, sarcasm, requests for help, questions and praise. Each `Signal` is built
by `_sig` (`earful.intent_compile`) from a hand-written regex over the
normalised text. The cues besides the table (negations, "you", question
openings, shouting) are looked up token by token in `earful.intent_scan`.

The cut is here because the table is long data: its larger half lives in
`earful.intent_failures` and the compilation in `earful.intent_compile`;
this module assembles `SIGNALS` in its fixed order and keeps the cues.
`Signal` is re-exported from here.
"""

from __future__ import annotations

import re

from earful.intent_compile import Signal as Signal
from earful.intent_compile import _sig
from earful.intent_failures import _FAILURES

# What sarcastic thanks are for (the text is lowercased and apostrophes dropped first).
_BAD_VERB = (
    r"(?:losing|lost|ruining|ruined|delaying|delayed|cancel+ing|cancel+ed|stranding|stranded|"
    r"wasting|ignoring|ignored|leaving|breaking|broke|charging|overcharging|screwing|messing|"
    r"keeping me (?:on hold|waiting)|making me (?:wait|miss)|nothing|the delay|the wait|the runaround|"
    r"another delay|yet another|(?:the|my) (?:delayed|cancel+ed|lost|broken|damaged|missing))"
)

SIGNALS: tuple[Signal, ...] = (
    *_FAILURES,
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

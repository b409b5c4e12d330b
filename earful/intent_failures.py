"""The signal table's first part: waits and delays, things that went wrong, dissatisfaction.

Part of `earful.intent` (see its docstring for what each kind of signal means
to the decision). `_FAILURES` holds the entries of kind wait, problem and
emotion, in the table's order: durations in a waiting context, "on hold",
repeated attempts, things lost, broken, cancelled or wrong, money problems,
outages, faults, changes for the worse and strong dissatisfaction. Each is a
hand-written regex over the normalised text, built by `earful.intent_compile._sig`.

The cut is here because the table is data, long and hand-maintained: this is
its larger half, what went wrong, with the building blocks only it uses
(`_NUM`, `_UNIT`, `_NEG_AUX`). `earful.intent_signals` puts it first in
`SIGNALS` (the order is the fired order reasons are built from) and adds what
a complaint is aimed at, negated help, sarcasm, requests, questions and praise.
"""

from __future__ import annotations

from earful.intent_compile import Signal, _sig

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
_DURATION_KEYS = "hour|hr|hrs|min|mins|minu|day|days|week|wk|wks|month|h"

_FAILURES: tuple[Signal, ...] = (
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
)

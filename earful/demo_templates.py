"""Template data for the demo stream: phrases, templates and name pools.

Synthetic text written for the Earful demo (see `earful.demo`), not taken from
any data set: every phrase, template, name, handle, subreddit, instance and
outlet here was made up for this project. Data only; the generation logic that
fills and combines these lives in `earful.demo`.
"""

from __future__ import annotations

# -- slot values ---------------------------------------------------------------
PRODUCTS = (
    "mobile app", "dashboard", "checkout", "API", "sync", "login", "desktop client",
    "invoices page", "search", "notifications", "file uploads", "billing portal", "SSO",
    "backups", "browser extension", "iOS app", "Android app", "webhooks", "CLI", "exports",
)  # fmt: skip
FEATURES = (
    "dark mode", "offline mode", "SAML SSO", "audit logs", "a public API", "team folders",
    "two-factor auth", "usage-based billing", "EU data residency", "Slack integration",
    "scheduled exports", "passkeys",
)  # fmt: skip
DURATIONS = (
    "6 hours", "all day", "2 days", "3 days", "4 days", "a week", "8 days", "ten days",
    "two weeks", "three weeks", "a month",
)  # fmt: skip
MINUTES = ("20 minutes", "40 minutes", "an hour", "90 minutes", "2 hours", "3 hours")
SHORT = ("5 minutes", "10 minutes", "15 minutes", "under an hour", "one email")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "yesterday", "last week")
MONTHS = ("January", "March", "June", "August", "September", "October")
CITIES = ("Berlin", "Austin", "Lisbon", "Toronto", "Dublin", "Singapore", "Denver", "Lyon")
AMOUNTS = ("$9.99", "$19", "$29.99", "$49", "$99", "$120", "€15", "€39", "£24")
NEG_EMOJI = ("😡", "🙄", "😤", "😩", "🤦", "💀", "😠", "")
POS_EMOJI = ("🙌", "❤️", "🎉", "👏", "🚀", "😍", "✨", "")
SARC_EMOJI = ("🙃", "👏", "😂", "🤡", "🙄")
CLOSERS = (
    "So frustrating.",
    "Done with this.",
    "Awful.",
    "Not happy.",
    "Fix it please.",
    "Seriously?",
)
OTHERS = ("spreadsheets", "our old vendor", "a homegrown script", "email threads")

# -- templates -----------------------------------------------------------------
# Slots: {b} entity name, {h} its handle as addressed on this platform, {p} product,
# {f} feature, {d} duration, {s} short duration, {day}, {month}, {city}, {amt}, {amt2},
# {order}, {ticket}, {link}, {sl} status link, {tag} hashtag, {neg}/{pos}/{sarc} emoji,
# {other}, {years}.
COMPLAINTS: dict[str, tuple[str, ...]] = {
    "delay": (
        "My {b} order {order} was supposed to arrive {day}. Still nothing after {d}.",
        "{b} shipping estimate went from 2 days to {d}. What is going on? {neg}",
        "{h} my delivery is {d} late and the tracking page just says 'processing'",
        "Third delay email from {b} this week. I just want my order {order}.",
        "Waited {d} for {b} to ship a replacement. Nothing yet. {tag}",
    ),
    "outage": (
        "{b} {p} is down again. {m} and counting {neg}",
        "Can't log in to {b} at all. 502 errors everywhere.",
        "{h} your status page says all green but the {p} has been failing for {m}",
        "Is it just me or is {b} completely broken right now? {tag}",
        "{b} went down in the middle of our launch. Worst possible timing {neg}",
    ),
    "billing": (
        "{b} charged me {amt} twice this month and support keeps closing my ticket. "
        "Ridiculous {neg}",
        "Cancelled {b} in {month} and I'm still getting billed {amt}. Unacceptable.",
        "{h} why did my invoice jump from {amt} to {amt2} with no notice?",
        "Got a surprise {amt2} charge from {b} and nobody can explain it. Frustrating.",
        "Refund from {b} 'processing' for {d} now. Give me my money back.",
    ),
    "lost": (
        "{b} lost my package {order}. Tracking hasn't moved in {d}.",
        "Order {order} marked delivered by {b} but there's nothing here {neg}",
        "{h} you shipped my order to the wrong city. Twice.",
        "Half of my {b} order never showed up and nobody answers.",
    ),
    "broken": (
        "{b} {p} keeps crashing since the last update {neg}",
        "The {b} export is broken, every CSV comes out empty",
        "Sync in {b} just wiped a week of my notes. Great.",
        "{h} the {p} has been throwing errors since {day}. Please fix.",
        "Latest {b} update broke the {p} for our whole team {tag}",
    ),
    "support": (
        "Still waiting {d} for {b} support to answer {ticket}. No reply, nothing {neg}",
        "{h} {ticket} has been open for {d}. Anyone there?",
        "{b} support chat: 'an agent will be with you shortly'. That was {d} ago. Useless.",
        "Worst support experience ever with {b}. Three agents, zero answers.",
        "{b} support closed my ticket without reading it. Again. Terrible.",
    ),
}
QUESTIONS = (
    "Is {b} down for anyone else?",
    "How do I cancel my {b} subscription? Can't find it anywhere.",
    "Anyone know how to export data from {b} {p}?",
    "{h} how do I change the billing email on my account?",
    "What's the difference between {b} Pro and Team plans?",
    "Can I get a refund from {b} if I was charged after cancelling?",
    "Is there an ETA on {f} for {b}?",
    "Thinking about moving our team to {b}. Anyone using it at scale?",
    "Does {b} support {f} yet?",
    "{h} is there a way to reset 2FA without the old phone?",
    "Anyone going to the {b} meetup in {city}?",
    "Which is better for a small shop: {b} or {other}?",
)
PRAISE = (
    "Shoutout to {b} support, fixed my issue in {s} {pos}",
    "The new {b} {p} is so much faster. Nice work!",
    "{h} you folks are great. Refund came through in a day, thank you!",
    "Been using {b} for {years} years and it just works.",
    "Honestly {b} is the one tool in our stack nobody complains about",
    "Love that {b} finally shipped {f}, exactly what we wanted {pos}",
    "Switched to {b} from {other} last month and it is so much better.",
    "Great experience with {b} today, the agent was kind and quick {pos}",
    "Love the {b} {p} redesign. Clean and fast.",
    "{h} thank you for sorting out my order so quickly!",
)
NEUTRAL = (
    "{b} announces {f} for {p} {link}",
    "{b} is hiring SREs in {city} {link}",
    "Reading about how {b} scaled their infrastructure: {link}",
    "{b} scheduled maintenance {day} 02:00 UTC {sl}",
    "Our team moved the docs to {b} this sprint.",
    "Comparing {b} pricing tiers for a side project, notes here: {link}",
    "Used {b} {p} for the first time today.",
    "{b} changelog for this week is out {link}",
    "Podcast episode with the {b} founders on building their {p}: {link}",
    "Migrating from {other} to {b}, day one.",
)
SARCASM = (
    "{b} went down in the middle of our launch. Brilliant timing {sarc}",
    "Thanks {b} for losing my order {order}. Really appreciate it {sarc}",
    "Love how {b} {p} goes down exactly when I need it. Great job {sarc}",
    "Wow {b}, {m} on hold. Truly world-class support {sarc}",
    "Nothing says premium like paying {amt} a month for {b} to break the {p} every week",
    "Oh good, {b} charged me twice. Generous of me. {sarc}",
    "{h} thanks for the 'quick fix' that took {d} {sarc}",
)
OUTAGE = (
    "{b} is down. Again. Nothing loads, this is awful {neg} {tag}",
    "{h} is there an outage? The {p} is throwing 503s for our whole team",
    "Whole office is stuck because {b} is down. Great Monday energy {neg}",
    "{b} outage has lasted {m} now. Any ETA? {tag}",
    "Can't log in, can't export, can't do anything. Thanks {b} {sarc}",
    "Is {b} down for everyone or just me?",
    "{b} status page still says 'investigating'. Our customers are furious.",
    "Lost an afternoon of work to the {b} outage. Seriously considering {other}.",
    "{h} please post updates, we have a deadline and the {p} is dead {neg}",
    "Paying {amt} a month for a service that is down half the day. {b} {tag}",
)
NEWS = (
    "{b} unveils {f} for enterprise customers",
    "{b} raises prices on {p} plans starting {month}",
    "{b} reports record quarter, opens office in {city}",
    "Outage hits {b} customers across Europe for {d}",
    "{b} acquires small analytics startup to strengthen its {p}",
    "Review: {b}'s new {p} is fast, but the pricing stings",
    "{b} settles billing dispute with customers in {city}",
)
FOREIGN: dict[str, tuple[str, ...]] = {
    "de": (
        "{b} ist schon wieder down. Seit {d_de} geht nichts mehr.",
        "Meine Bestellung bei {b} ist immer noch nicht da. Der Kundenservice antwortet nicht.",
        "Ehrlich, der Support von {b} war heute super hilfreich. Danke!",
        "Weiß jemand, ob {b} auch nach Österreich liefert?",
    ),
    "es": (
        "{b} me cobró dos veces este mes y nadie responde 😡",
        "¿Alguien sabe si {b} tiene problemas hoy? No puedo entrar.",
        "Me encanta la nueva versión de {b}, mucho más rápida.",
        "Llevo {d_es} esperando mi pedido de {b}.",
    ),
    "fr": (
        "{b} est encore en panne ce matin, c'est pénible.",
        "Merci {b} pour la réponse rapide du support !",
        "Quelqu'un a un code promo {b} ?",
        "Toujours pas reçu ma commande {b} après {d_fr}.",
    ),
    "ja": (
        "{b} のアプリがまた落ちてる…",
        "{b} のサポート、対応が早くて助かりました！",
        "{b} の請求が二重になってる。同じ人いる？",
    ),
    "pt": (
        "A {b} cobrou duas vezes no meu cartão. Alguém mais?",
        "Adorei o novo recurso da {b}, ficou muito bom!",
    ),
    "it": ("{b} non funziona da stamattina, qualcuno sa qualcosa?",),
}
FOREIGN_DURATIONS = {
    "de": ("zwei Stunden", "drei Tagen", "einer Woche"),
    "es": ("dos semanas", "tres días", "un mes"),
    "fr": ("deux semaines", "trois jours", "un mois"),
}
REPLIES: dict[str, tuple[str, ...]] = {
    "complaint": (
        "Same here, the {b} {p} isn't loading for me either",
        "+1, {b} charged me twice too",
        "Did {b} ever get back to you? Mine's been {d}.",
        "Try pinging {b} support directly, they answer faster here than by email",
        "Exactly why we left {b} last year",
        "{b} did the same to me in {month}. Never got a real answer.",
    ),
    "question": (
        "I think {b} added that last month, check the settings page",
        "The {b} docs cover it: {link}",
        "Following, also curious about {b} here",
        "Asked {b} support the same thing, no answer yet",
    ),
    "praise": (
        "Agreed, {b} has been solid for us",
        "Nice! {b} support helped me the same way {pos}",
        "Good to hear, was on the fence about {b}",
    ),
    "other": (
        "Interesting, thanks for sharing the {b} link",
        "Curious how {b} compares to {other} for this",
        "Bookmarked. We're evaluating {b} too.",
    ),
}
# -- authors -------------------------------------------------------------------
FIRST = (
    "alex", "sam", "jen", "maria", "tom", "priya", "li", "omar", "kate", "dan", "nina",
    "raj", "sofia", "ben", "yuki", "lena", "marco", "ana", "chris", "fatima", "jonas",
    "emma", "leo", "ines", "mike", "sara", "paul", "hana", "ivan", "zoe",
)  # fmt: skip
WORDS = (
    "codes", "dev", "writes", "ops", "builds", "makes", "pixel", "cloud", "coffee", "runs",
    "hacks", "designs", "bytes", "ships", "tinkers", "data", "sre", "pm", "shop", "studio",
)  # fmt: skip
INSTANCES = {
    "mastodon": ("mastodon.social", "fosstodon.org", "hachyderm.io", "mas.to", "mstdn.social"),
    "lemmy": ("lemmy.world", "lemmy.ml", "programming.dev", "sh.itjust.works"),
}
REDDIT_FLAIR = {
    "complaint": ("Rant:", "[Help]", "PSA:"),
    "outage": ("PSA:", "[Help]"),
    "question": ("Question:", "[Help]"),
    "praise": ("Appreciation post:",),
}
SUBREDDITS = ("sysadmin", "smallbusiness", "SaaS", "devops", "techsupport", "webdev")
OUTLETS = (
    ("The Cloud Brief", "cloudbrief.example"),
    ("SaaS Weekly", "saasweekly.example"),
    ("Retail Dive In", "retaildivein.example"),
    ("Startup Ledger", "startupledger.example"),
    ("Ops Digest", "opsdigest.example"),
)

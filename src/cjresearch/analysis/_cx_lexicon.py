"""A customer-experience (CX) lexicon that extends VADER.

VADER was built on social-media text. Customer feedback breaks it in predictable ways:

- Service failures are told as events, not adjectives: "on hold", "no reply",
  "never answered", "still waiting", "charged twice". VADER scores these 0.
- Some of VADER's positive words are neutral nouns in CX text: ``support`` (the
  department, +1.7 in VADER), ``please`` (a polite request), ``attachment``,
  ``credit`` (card), ``interest`` (rate), ``promised`` (nearly always a broken promise).
- Domain words are missing: ``overcharged``, ``outage``, ``glitch``, ``seamless``,
  ``hassle-free``, ``sorted``, ``chasing``...

Three tables fix this, all on VADER's scale (about -4 to +4 per word):

:data:`CX_WORDS`
    single words added to (or overriding) VADER's lexicon;
:data:`CX_NEUTRAL_WORDS`
    words removed from VADER's lexicon because they carry no emotion in CX text;
:data:`CX_PHRASES`
    multi-word expressions. VADER only looks up single tokens, so
    :class:`PhraseRewriter` replaces each phrase by one synthetic token (``cx_on_hold``)
    whose valence is added to the lexicon. Because the phrase becomes an ordinary
    lexicon word, VADER's own rules still apply to it: a preceding negation flips it
    ("not on time"), boosters scale it, "but" reweights it, ALL CAPS emphasises it.
    Phrases with valence 0 ("customer care", "help desk", "I'd like") only hide a
    misleading VADER word.

Phrase patterns are regular expressions matched case-insensitively on word
boundaries. A space matches any run of whitespace, ``<HY>`` an optional hyphen or
space, and ``<NEG>`` any negator ("didn't", "has not", "never", ...). At one
position the first phrase that matches wins, so more specific phrases come first.
Patterns must not contain capturing groups.

The vocabulary is general CX language (support contact, billing, delivery, apps,
setup, refunds, renewals), not a list of test sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CX_NEUTRAL_WORDS", "CX_PHRASES", "CX_WORDS", "CXPhrase", "PhraseRewriter"]

#: Single words added to VADER's lexicon, or overriding VADER's value.
CX_WORDS: dict[str, float] = {
    # contact and waiting
    "waiting": -0.9,
    "waited": -0.9,
    "chasing": -1.6,
    "chased": -1.3,
    "unanswered": -1.8,
    "unresolved": -1.9,
    "transferred": -0.7,
    "escalate": -0.8,
    "escalated": -0.8,
    "escalating": -0.8,
    "escalation": -0.8,
    "runaround": -1.9,
    "queued": -0.7,
    "queuing": -0.7,
    "queueing": -0.7,
    "no-show": -1.8,
    "unhelpful": -2.1,
    "clueless": -1.8,
    "misinformed": -1.6,
    "joke": -1.0,  # VADER: +1.2 (a funny joke); in feedback "it's a joke" is contempt
    # billing and price
    "overcharged": -2.2,
    "overcharging": -2.2,
    "overcharge": -2.0,
    "overbilled": -2.2,
    "overpriced": -1.8,
    "extortionate": -2.4,
    "pricey": -0.8,
    "expensive": -0.9,
    "ripoff": -2.6,
    "rip-off": -2.6,
    "mis-sold": -2.3,
    "missold": -2.3,
    "canceled": -1.0,  # VADER has only the British spelling
    "cancellation": -0.6,
    # products, apps, networks
    "nightmare": -2.6,
    "nightmarish": -2.6,
    "glitch": -1.4,
    "glitches": -1.4,
    "glitchy": -1.6,
    "glitched": -1.4,
    "glitching": -1.4,
    "crashes": -1.7,
    "crashed": -1.7,
    "crashing": -1.7,
    "outage": -1.9,
    "outages": -1.9,
    "downtime": -1.4,
    "bug": -1.1,
    "bugs": -1.2,
    "buggy": -1.8,
    "freezes": -1.3,
    "froze": -1.3,
    "freezing": -1.3,  # VADER: -0.4 (cold); in app feedback a hang
    "laggy": -1.4,
    "unresponsive": -1.8,
    "unusable": -2.2,
    "unreliable": -1.9,
    "faulty": -1.8,
    "incorrect": -1.3,
    "inaccurate": -1.3,
    "disconnected": -1.3,
    "disconnects": -1.3,
    "fiddly": -1.1,
    "clunky": -1.4,
    "cumbersome": -1.3,
    "hassle": -1.6,
    "hassles": -1.6,
    "issue": -0.6,
    "issues": -0.7,
    "rubbish": -2.0,
    "shambles": -2.4,
    "shambolic": -2.4,
    "abysmal": -2.8,
    "disgraceful": -2.6,
    # delivery and time
    "late": -1.1,
    "delays": -1.3,
    "overdue": -1.3,
    "slow": -1.1,
    "slowly": -0.8,
    "sluggish": -1.3,
    # positive service outcomes
    "seamless": 2.3,
    "seamlessly": 2.1,
    "effortless": 2.1,
    "effortlessly": 2.0,
    "painless": 1.8,
    "hassle-free": 2.2,
    "trouble-free": 2.0,
    "stress-free": 2.0,
    "worry-free": 2.0,
    "user-friendly": 1.9,
    "smooth": 1.6,
    "smoothly": 1.6,
    "sorted": 1.4,  # British "sorted" = resolved
    "resolved": 1.8,  # VADER: +0.7; resolution is the outcome customers want
    "refunded": 0.8,
    "promptly": 1.5,
    "quick": 1.0,
    "quickly": 1.0,
    "fast": 0.9,
    "speedy": 1.5,
    "swift": 1.4,
    "swiftly": 1.4,
    "knowledgeable": 1.9,
    "polite": 1.7,
    "patient": 1.3,
    "professional": 1.3,
    "attentive": 1.6,
    "accommodating": 1.5,
    "apologetic": 1.0,
    "intuitive": 1.7,
    "reliable": 1.5,
    "straightforward": 1.3,
    "simple": 0.7,
    "transparent": 1.2,
    "discount": 0.9,
}

#: Words removed from VADER's lexicon: in CX text they name things or are politeness.
CX_NEUTRAL_WORDS: frozenset[str] = frozenset(
    {"support", "please", "attachment", "credit", "interest", "dear", "promised", "number"}
)

_NEG = (
    r"(?:didn't|didnt|did not|doesn't|doesnt|does not|don't|dont|do not|won't|wont|will not"
    r"|wouldn't|wouldnt|would not|can't|cant|cannot|can not|couldn't|couldnt|could not"
    r"|haven't|havent|have not|hasn't|hasnt|has not|hadn't|hadnt|had not|isn't|isnt|is not"
    r"|wasn't|wasnt|was not|aren't|arent|are not|weren't|werent|were not|never|not)"
)
_NOBODY = r"(?:nobody|no one|no-one|noone|no body)"
_PROBLEM_NOUN = (
    r"(?:faults?|problems?|issues?|bugs?|errors?|glitch(?:es)?|mistakes?|query|queries"
    r"|complaints?|(?:broken|faulty|damaged|defective) \w+)"
)
_PATRONAGE = (
    r"(?:use|using|buy|buying|order|ordering|shop|shopping|deal with|dealing with|recommend"
    r"|go back|going back|come back|coming back|return|returning|trust|renew|renewing"
    r"|sign up|subscribe|book|booking)"
)


@dataclass(frozen=True)
class CXPhrase:
    """One multi-word CX expression: a name (becomes the token), a pattern, a valence."""

    name: str
    pattern: str
    valence: float

    @property
    def token(self) -> str:
        """The synthetic single token that stands for the phrase inside VADER."""
        return f"cx_{self.name}"


#: Multi-word expressions, most specific first (first match at a position wins).
CX_PHRASES: tuple[CXPhrase, ...] = (
    # --- words VADER misreads in CX text: hide them (valence 0) ------------------------
    CXPhrase(
        "customer_care",
        r"customer (?:care|service|services|support|team|centre|center|helpline|relations)",
        0.0,
    ),
    CXPhrase(
        "help_desk",
        r"help<HY>(?:desk|centre|center|page|pages|article|articles|section|guide|guides|line"
        r"|docs|menu|screen)",
        0.0,
    ),
    CXPhrase(
        "would_like",
        r"(?:would|\w+'d|wd) like|(?:looks|seems|feels|sounds|look|seem|feel|sound|something)"
        r" like|like (?:a|an|my|our|your|the|their) (?:previous|last|old|other|former)",
        0.0,
    ),
    CXPhrase("sign_off", r"(?:kind|best|warm|warmest) regards|thanks in advance", 0.0),
    # --- positive idioms that VADER gets wrong or misses ------------------------------
    CXPhrase(
        "could_not_be_better",
        r"(?:couldn't|couldnt|could not|can't|cant|cannot|can not) (?:be|have been|ask for"
        r"|have asked for|wish for|have wished for) (?:any |a )?(?:happier|better|nicer|easier"
        r"|smoother|quicker|faster|more (?:pleased|satisfied|helpful|happy|impressed))",
        2.8,
    ),
    CXPhrase(
        "above_and_beyond",
        r"above and beyond|(?:went|go|goes|going) the extra mile|extra mile|over and above"
        r"|second to none|top<HY>notch|top<HY>class|first<HY>class|five<HY>star|5<HY>star"
        r"|spot on|bang on|(?:couldn't|couldnt|could not|can't|cant|cannot) fault"
        r"|no complaints|nothing to (?:complain about|fault)|(?:works|worked|working) like a charm"
        r"|life<HY>saver|game<HY>changer|a breeze|a doddle|(?:a )?piece of cake|(?:a )?godsend",
        2.6,
    ),
    CXPhrase(
        "hassle_free",
        r"(?:hassle|trouble|stress|worry|pain|fuss|problem|issue|error|bug)<HY>free"
        r"|no (?:fuss|hassle|faff|drama)|(?:no|zero|not a single|not one) (?:hiccups?|hitch(?:es)?)"
        r"|without (?:any |a |the )?(?:fuss|hassle|faff|drama|problems?|issues?|trouble"
        r"|difficulty|difficulties|hiccups?|hitch(?:es)?)|went (?:smoothly|without a hitch|well)",
        2.2,
    ),
    CXPhrase("user_friendly", r"user friendly", 1.9),
    CXPhrase(
        "fixed_problem",
        # Past and progressive forms only: "to fix the problem" is a wish, not an outcome.
        r"(?:fixed|fixes|fixing|resolved|resolving|resolves|solved|solving|solves|sorted|sorting"
        r"|repaired|repairing|replaced|replacing|cleared up|ironed out)(?: out)?"
        r" (?:(?:the|my|our|this|that|their|his|her|its|all|every|each|an?|any) )?"
        r"(?:(?!of\b)\w+ )?" + _PROBLEM_NOUN,
        2.0,
    ),
    CXPhrase(
        "got_it_fixed",
        r"(?:fixed|resolved|sorted|solved|repaired)(?: out)? (?:it|everything|things|this|that"
        r"|them|the lot)|(?:got|gets|was|were|been|is|are|now|all|finally|quickly"
        r"|promptly|easily) (?:it |everything |things )?(?:fixed|sorted|resolved|solved|repaired)",
        1.6,
    ),
    CXPhrase(
        "quick_response",
        r"(?:quick|quickly|fast|prompt|promptly|speedy|swift|rapid|instant|immediate|timely)"
        r" (?:response|responses|reply|replies|answer|answers|turnaround|resolution|fix"
        r"|service|delivery|dispatch|refund|callback|call back|action|support|help)",
        2.0,
    ),
    CXPhrase(
        "responded_quickly",
        r"(?:responded|replied|answered|got back|called back|rang back|dealt with it|picked up)"
        r" (?:to me )?(?:quickly|promptly|straight away|right away|immediately|within (?:minutes"
        r"|the hour|an hour|seconds|a minute))",
        1.8,
    ),
    CXPhrase(
        "first_contact_resolution",
        r"(?:on|at) the first (?:call|attempt|try|go|contact)|first<HY>time fix"
        r"|first<HY>call resolution",
        1.5,
    ),
    CXPhrase(
        "straight_away",
        r"straight away|right away|in no time|no time at all|within (?:minutes|the hour|an hour)",
        1.2,
    ),
    CXPhrase(
        "short_wait",
        r"(?:short|little|minimal|hardly any|barely any) (?:wait|waiting|waits|queue|queues|hold)"
        r"(?: times?)?",
        1.4,
    ),
    CXPhrase("on_time", r"on time|on schedule|when promised|as promised|in good time", 1.2),
    CXPhrase("as_described", r"as described|as advertised", 0.8),
    CXPhrase(
        "early",
        r"(?:a day|a week|a few days|two days|\d+ days?|days) early|ahead of (?:schedule|time)"
        r"|(?:arrived|came|delivered|turned up|showed up) early",
        1.4,
    ),
    CXPhrase(
        "money_back",
        r"(?:got|get|getting|received|had) (?:my|our|the|all (?:my|our|the)) (?:money|cash"
        r"|funds?|deposit) back|(?:full|prompt|quick) refund|refunded in full"
        r"|refund (?:came|arrived|went) through"
        r"|refund (?:was |has been )?(?:processed|issued|approved|credited)",
        1.6,
    ),
    # --- contact failures ---------------------------------------------------------
    CXPhrase("on_hold", r"on hold", -1.6),
    CXPhrase("in_queue", r"in (?:a|the) (?:phone |call )?queue", -0.9),
    CXPhrase(
        "long_wait",
        r"(?:long|lengthy|endless|ridiculous|huge|massive|horrendous) (?:wait|waits|waiting"
        r"|queue|queues|hold)(?: times?)?",
        -1.6,
    ),
    CXPhrase(
        "waited_ages",
        r"(?:waited|waiting|wait|took|takes|taking|take|been) (?:for )?(?:ages|forever|an age"
        r"|an eternity|hours|weeks|months|days on end)",
        -1.8,
    ),
    CXPhrase(
        "took_too_long",
        r"(?:took|takes|taking|waited|waiting|wait|been waiting) (?:far |way |much )?"
        r"(?:too long|a long time|so long|a very long time)",
        -1.5,
    ),
    CXPhrase("took_a_while", r"(?:took|takes|taking) (?:a while|some time|a bit)", -0.5),
    CXPhrase(
        "still_waiting", r"still (?:waiting|chasing|pending|outstanding|unresolved|broken)", -2.2
    ),
    CXPhrase(
        "still_no",
        r"still (?:no|nothing)(?! (?:problems?|issues?|complaints?|faults?|trouble|hassle)\b)",
        -1.6,
    ),
    CXPhrase(
        "yet_to",
        r"yet to (?:receive|hear|get|see|arrive"
        r"|be (?:fixed|resolved|refunded|delivered|contacted))",
        -1.6,
    ),
    CXPhrase(
        "no_reply",
        r"(?:no|zero|not (?:a|one|any)|without (?:a|any)|never (?:got|received|had)(?: a| any)?"
        r"|" + _NEG + r" (?:get|got|receive|received|had|have)(?: a| any)?)"
        r" (?:reply|replies|response|responses|answer|answers|callback|callbacks|call back"
        r"|call-back|return call|follow<HY>up|followup|acknowledge?ment|update|updates|feedback"
        r"|explanation|confirmation)",
        -1.8,
    ),
    CXPhrase(
        "never_answered",
        r"(?:never|" + _NEG + r") (?:ever )?(?:answer(?:s|ed)?|pick(?:s|ed)? up|repl(?:y|ies|ied)"
        r"|respond(?:s|ed)?|got back|gets back|get back|came back|come back|comes back"
        r"|heard back|call(?:s|ed)? (?:me |us )?back|r[ai]ng (?:me |us )?back"
        r"|return(?:s|ed)? (?:my |our )?calls?|follow(?:s|ed)? up"
        r"|bother(?:s|ed)? to (?:reply|respond|answer|call))",
        -2.0,
    ),
    CXPhrase(
        "nobody_helped",
        _NOBODY + r"(?: (?:could|can|would|will|seems to|seemed to|has|had|ever|even|bothered to"
        r"|was able to|is able to|wants to|wanted to))* (?:help(?:s|ed)?|assist(?:s|ed)?"
        r"|answer(?:s|ed)?|repl(?:y|ies|ied)|respond(?:s|ed)?|tell|told|tells|explain(?:s|ed)?"
        r"|know(?:s)?|knew|care(?:s|d)?|listen(?:s|ed)?|fix(?:es|ed)?|sort(?:s|ed)?"
        r"|resolve(?:s|d)?|call(?:s|ed)?|contact(?:s|ed)?|got back|gets back|get back|came|come"
        r"|turn(?:s|ed)? up|show(?:s|ed)? up|pick(?:s|ed)? up)",
        -2.0,
    ),
    CXPhrase(
        "hung_up_on_me",
        r"(?:hung|hang|hangs|hanging) up on (?:me|us)|put the phone down on (?:me|us)"
        r"|cut (?:me|us) off",
        -2.2,
    ),
    CXPhrase("hung_up", r"hung up|got cut off|cut off", -1.0),
    CXPhrase(
        "going_in_circles",
        r"(?:round|around) in circles|run<HY>around|pillar to post|back and forth"
        r"|passed (?:around|round|about|between|from one)|bounced (?:around|between|from)"
        r"|(?:from )?one department to (?:another|the next)",
        -1.9,
    ),
    CXPhrase(
        "repeat_myself",
        r"repeat(?:ing)? (?:myself|my (?:story|details|problem|issue)|the same (?:thing|story"
        r"|information|details))|(?:explain|explaining|explained) (?:\w+ ){0,3}?(?:again"
        r"|all over again|from scratch)|all over again|yet again|again and again"
        r"|time and (?:time )?again|time after time|every single time"
        r"|for the (?:second|third|fourth|fifth|sixth|umpteenth|nth|\d+(?:st|nd|rd|th)) time",
        -1.3,
    ),
    CXPhrase(
        "nothing_done",
        r"nothing (?:has |had )?(?:happened|was done|has been done|had been done|gets done"
        r"|got done|is being done|changed|has changed|was fixed|has been fixed|was resolved)",
        -1.6,
    ),
    CXPhrase("dropped_the_ball", r"dropp(?:ed|ing) the ball", -1.8),
    # --- delivery and appointments ---------------------------------------------------
    CXPhrase(
        "did_not_arrive",
        r"(?:" + _NEG + r"|never) (?:yet )?(?:turn(?:s|ed)? up|show(?:s|ed)? up|arrive(?:s|d)?"
        r"|come|came|comes|been delivered|delivered|received|appear(?:s|ed)?"
        r"|materiali[sz]e(?:s|d)?|happen(?:s|ed)?|come through|came through|gone through"
        r"|go through|went through|been processed|processed|been credited|credited"
        r"|been refunded|refunded)(?! again\b)|no<HY>show",
        -1.8,
    ),
    # --- billing ------------------------------------------------------------------
    CXPhrase(
        "charged_twice",
        r"(?:charged|billed|debited|charging|billing|paid)(?: me| us)? (?:twice|two times"
        r"|double|three times|multiple times|again)|double<HY>(?:charged|billed|charge|charging"
        r"|billing)",
        -2.2,
    ),
    CXPhrase(
        "still_charged",
        r"still (?:being )?(?:charged|billed|charging|billing|paying|taking (?:money|payments?))",
        -2.0,
    ),
    CXPhrase(
        "hidden_fees",
        r"(?:hidden|surprise|unexpected|extra|sneaky) (?:fees?|charges?|costs?|extras?|bills?)"
        r"|bill shock",
        -2.0,
    ),
    CXPhrase(
        "price_rise",
        r"price (?:hike|hikes|rise|rises|increase|increases|jump|went up|goes up|gone up)"
        r"|prices (?:went|go|have gone|keep going|are going) up"
        r"|(?:hiked|raised|put up|increased|bumped up) (?:the |my |our )?(?:price|prices|bill"
        r"|fee|fees|premium|tariff)",
        -1.4,
    ),
    CXPhrase(
        "no_warning",
        r"(?:without|no|with no|with zero) (?:any )?(?:prior |advance |any )?(?:warning|notice"
        r"|notification|reminder|consent|permission|heads<HY>up)"
        r"|without (?:telling|asking|informing|notifying) (?:me|us)",
        -1.5,
    ),
    CXPhrase(
        "auto_renewed",
        r"auto<HY>renew(?:ed|al|s)?|renewed automatically|automatically renewed",
        -0.6,
    ),
    CXPhrase(
        "no_refund",
        r"no refund|(?:refused|rejected|denied|declined|won't|wouldn't|will not|would not"
        r"|refuse to|refused to|refusing to) (?:to )?(?:give |issue |process )?(?:me |us )?"
        r"(?:a |my |the |any )?refunds?",
        -2.0,
    ),
    CXPhrase("out_of_pocket", r"out of pocket", -1.5),
    CXPhrase(
        "rip_off",
        r"rip(?:ped)?<HY>off|mis<HY>sold|daylight robbery|money grab|cash grab|con artists?",
        -2.6,
    ),
    # --- apps, devices and networks -------------------------------------------------
    CXPhrase(
        "keeps_failing",
        r"(?:keeps?|kept|keeping) (?:on )?(?:crashing|freezing|failing|dropping|cutting out"
        r"|disconnecting|logging (?:me |us )?out|breaking|going down|glitching|buffering"
        r"|timing out|declining|rejecting|happening)",
        -1.9,
    ),
    CXPhrase(
        "not_working",
        r"(?:" + _NEG + r"|stopped|stops|no longer) (?:work|works|working|load|loads|loading"
        r"|connect|connects|connecting|open|opens|sync|syncs|syncing|turn on)",
        -1.8,
    ),
    CXPhrase(
        "dropped_connection",
        r"(?:dropping|dropped|drops|dropped out|cuts out|cutting out|cut out) (?:the |my |our )?"
        r"(?:connection|signal|call|calls|line|wifi|wi-fi|internet)"
        r"|(?:connection|signal|line|wifi|wi-fi|internet|broadband|network) (?:keeps )?"
        r"(?:dropping|drops|dropped|cuts out|cutting out|is down|was down|went down|goes down)",
        -1.6,
    ),
    CXPhrase(
        "system_down",
        r"(?:site|website|app|system|service|server|servers|portal|platform)"
        r" (?:is |was |keeps |kept )?(?:down|going down|went down|goes down|offline)",
        -1.7,
    ),
    CXPhrase(
        "logged_out", r"(?:logged|logging|logs|kicked|kicking|kicks|thrown) (?:me |us )?out", -1.1
    ),
    CXPhrase(
        "no_service",
        r"(?:no|without|zero|lost(?: my| the| all)?|losing(?: my| the)?) (?:signal|service"
        r"|internet|connection|connectivity|broadband|wifi|wi-fi|coverage|power|network"
        r"|dial tone|phone line|tv|data)",
        -1.8,
    ),
    # --- disappointment and churn ----------------------------------------------------
    CXPhrase(
        "never_again",
        r"never again|never " + _PATRONAGE + r"(?: \w+){0,3}? again"
        r"|(?:won't|wont|will not|wouldn't|would not) (?:be )?" + _PATRONAGE + r"(?: \w+){0,3}?"
        r" again",
        -2.3,
    ),
    CXPhrase(
        "let_down",
        r"let (?:me|us) down"
        r"|(?:was|were|felt|feel|feeling|been|am|are|is|completely|totally|really) let down|"
        r"fell short|falls short|not fit for purpose|fed up|sick (?:and tired )?of"
        r"|had enough|last straw",
        -2.0,
    ),
    CXPhrase(
        "wasted_time",
        r"waste of (?:time|money|space)|wasted (?:my|our|so much|hours|an? (?:hour|afternoon"
        r"|morning|day|evening|week))",
        -2.2,
    ),
    CXPhrase(
        "is_a_joke",
        r"(?:is|was|it's|its|what|such|total|complete|absolute) (?:a )?(?:complete |total "
        r"|absolute |bad |sick )?joke",
        -2.0,
    ),
    CXPhrase(
        "switching_provider",
        r"(?:switch|switching|switched|move|moving|moved|go|going|went|leave|leaving|left)"
        r" (?:over )?(?:to|for) (?:a |an |another |the )?(?:competitor|competition|rival)s?"
        r"|(?:switch|switching|switched|change|changing|changed) (?:providers?|suppliers?"
        r"|networks?|banks?|carriers?|insurers?|companies)"
        r"|(?:switch|switching|switched|move|moving|moved|go|going|went) (?:over )?to"
        r" (?:another|a different|a better|a cheaper|other) (?:provider|supplier|company|bank"
        r"|network|carrier|insurer)s?"
        r"|(?:taking|take|took) my (?:business|custom|money) elsewhere"
        r"|(?:go|going|went|shop|shopping) elsewhere",
        -1.4,
    ),
    CXPhrase(
        "could_be_better",
        r"(?:could|should|might) (?:have been|be|do) (?:a lot |much |far |way )?(?:better|easier"
        r"|quicker|faster|simpler|clearer|smoother)",
        -0.8,
    ),
)


class PhraseRewriter:
    """Replace CX phrases in a text by single tokens that VADER can look up.

    Parameters
    ----------
    phrases
        The phrases to recognise; by default :data:`CX_PHRASES`.

    Attributes
    ----------
    lexicon
        ``{token: valence}`` for every phrase with a non-zero valence, to be added to
        VADER's lexicon. Neutral phrases get tokens that are deliberately not in it.
    """

    def __init__(self, phrases: tuple[CXPhrase, ...] = CX_PHRASES) -> None:
        alternatives = []
        self._tokens: dict[str, str] = {}
        for i, phrase in enumerate(phrases):
            body = phrase.pattern.replace("<HY>", r"[-\s]?").replace(" ", r"\s+")
            # Named groups let one pass over the text find every phrase.
            alternatives.append(f"(?P<p{i}>{body})")
            self._tokens[f"p{i}"] = phrase.token
        source = r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])"
        # Matching a lowercased copy is about twice as fast as re.IGNORECASE; the
        # case-insensitive pattern is only for the rare texts whose length lower() changes.
        self._pattern = re.compile(source)
        self._pattern_ignorecase = re.compile(source, re.IGNORECASE)
        self.lexicon: dict[str, float] = {p.token: p.valence for p in phrases if p.valence != 0}

    def rewrite(self, text: str) -> str:
        """``text`` with every recognised phrase replaced by its token.

        A phrase written in capitals keeps VADER's ALL-CAPS emphasis.
        """
        lower = text.lower()
        if len(lower) != len(text):
            return self._pattern_ignorecase.sub(self._replace, text)
        pieces: list[str] = []
        end = 0
        for match in self._pattern.finditer(lower):
            start = match.start()
            original = text[start : match.end()]
            token = self._tokens[match.lastgroup or ""]
            pieces.extend((text[end:start], token.upper() if original.isupper() else token))
            end = match.end()
        if not pieces:
            return text
        pieces.append(text[end:])
        return "".join(pieces)

    def _replace(self, match: re.Match[str]) -> str:
        token = self._tokens[match.lastgroup or ""]
        return token.upper() if match.group(0).isupper() else token

"""The English the claim checks read besides a rule table's own words.

A rule table names its quantities, thresholds, tiers and present/absent words; what a sentence
does with them (compares, negates, hedges, concludes) is said with the ordinary words below,
which no domain owns. Phrases are lower-case; a space matches any run of spaces or hyphens.
"""

from __future__ import annotations

#: Comparison phrases -> how the value stands to the reference. "pass"/"fail" depend on the
#: kind of limit named ("clears the ceiling" is <=, "clears the floor" is >=).
COMPARATORS: dict[str, str] = {
    **dict.fromkeys(
        (
            "above", "over", "exceeds", "exceed", "exceeded", "exceeding", "more than",
            "greater than", "higher than", "larger than", "beyond", "breaks", "breaches",
            "breach", "tops", "past", "surpasses", "in excess of", "outside", "north of",
            "faster than", "further than", "farther than", "longer than", "later than",
        ),
        ">",
    ),
    **dict.fromkeys(
        (
            "at or above", "at least", "reaches", "reach", "reached", "reaching", "hits", "hit",
            "meets", "meet", "met", "meeting", "no less than", "at or beyond", "at or over",
            "crosses", "equal to or above",
        ),
        ">=",
    ),
    **dict.fromkeys(
        (
            "below", "under", "less than", "lower than", "fewer than", "smaller than",
            "short of", "shy of", "beneath", "falls short of", "fall short of", "south of",
            "slower than", "shorter than", "earlier than", "sooner than",
        ),
        "<",
    ),
    **dict.fromkeys(
        (
            "at or below", "at most", "within", "inside", "no more than", "at or under",
        ),
        "<=",
    ),
    **dict.fromkeys(
        ("clears", "clear", "cleared", "clearing", "satisfies", "satisfy", "respects",
         "complies with", "passes"),
        "pass",
    ),
    **dict.fromkeys(
        ("misses", "miss", "missed", "fails", "fail", "failed", "violates", "violate"),
        "fail",
    ),
}  # fmt: skip

#: Comparison words that place a value in or out of a band around zero: of a change, they
#: compare its size ("a 15-point drop is outside the 5-point band").
BAND_WORDS = frozenset({"within", "inside", "outside"})

#: Comparison words and their opposites, for names turned around ("just over the threshold"
#: where the policy's quantity counts deposits "just under" it).
TURNED: dict[str, str] = {
    "above": "below", "below": "above", "over": "under", "under": "over", "within": "outside",
    "inside": "outside", "outside": "inside", "more": "less", "less": "more", "fewer": "more",
    "higher": "lower", "lower": "higher", "before": "after", "after": "before",
}  # fmt: skip

#: Words that say which way a quantity moved between two readings (+1 up, -1 down), when the
#: table has a change quantity (an expression `later - earlier`) for it. Verbs are said of the
#: name before them ("revolving balances rose"); "up"/"down" only before the amount ("up
#: $179"; "pay down balances" is advice); "higher"/"lower" only before the name ("higher
#: credit utilization").
DIRECTION_VERBS: dict[str, int] = {
    **dict.fromkeys(
        ("rise", "rose", "risen", "rises", "rising", "increase", "increased", "increases",
         "grow", "grew", "grown", "climb", "climbed", "climbs", "jumped", "went up",
         "has gone up", "ticked up", "edged up"),
        1,
    ),
    **dict.fromkeys(
        ("fall", "fell", "fallen", "falls", "falling", "decrease", "decreased", "decreases",
         "drop", "dropped", "drops", "shrink", "shrank", "slipped", "went down",
         "has gone down", "ticked down", "edged down"),
        -1,
    ),
}  # fmt: skip
DIRECTION_AMOUNTS: dict[str, int] = {"up": 1, "down": -1}
DIRECTION_ADJECTIVES: dict[str, int] = {"higher": 1, "lower": -1}

#: Names of a limit -> its kind: a ceiling is not to be exceeded, a floor is to be reached, a
#: trigger (threshold, level, mark) is where something starts to apply.
LIMIT_NOUNS: dict[str, str] = {
    **dict.fromkeys(("maximum", "max", "ceiling", "cap", "limit", "upper limit"), "ceiling"),
    **dict.fromkeys(("minimum", "min", "floor", "requirement", "lower limit"), "floor"),
    **dict.fromkeys(
        ("threshold", "level", "mark", "cutoff", "cut off", "line", "band", "lookback",
         "lookback period", "bar", "trigger", "benchmark", "target"),
        "trigger",
    ),
}  # fmt: skip

#: Words that negate what follows them in a clause.
NEGATORS: tuple[str, ...] = (
    "not", "no", "never", "nothing", "none", "neither", "nor", "without", "cannot", "can't",
    "isn't", "doesn't", "don't", "didn't", "won't", "wasn't", "aren't", "hasn't", "haven't",
    "rather than", "instead of", "lacks", "free of", "no longer", "nowhere near", "avoids",
    "regardless of", "irrespective of", "not even",
)  # fmt: skip

#: Words that make a clause hypothetical or hedged: its decision words are not asserted.
HEDGES: tuple[str, ...] = (
    "if", "unless", "were", "might", "may", "could", "whether", "otherwise", "would have",
)  # fmt: skip

#: Words that make what follows conditional: a comparison or a present word after them is
#: not said of the case ("travel that fast would be impossible"); a decision word after them
#: still is ("the transaction would be declined").
CONDITIONALS: tuple[str, ...] = ("would", "hypothetically", "in theory")

#: Words that make a clause about the explanation itself ("Step-by-step review of the case
#: follows", "Let me review the file"): its decision words are an activity, not the decision.
META: tuple[str, ...] = (
    "follows", "as follows", "step by step", "let me", "let us", "let's", "i will", "i'll",
    "we will", "we'll", "i am going to", "walk through", "go through", "work through",
    "one check at a time", "in turn",
)  # fmt: skip

#: Words that make a clause about the whole case (its decision words are the conclusion).
CASE_MARKERS: tuple[str, ...] = (
    "decision", "conclusion", "outcome", "verdict", "recommend", "recommends", "recommended",
    "recommendation", "overall", "therefore", "thus", "hence", "consequently", "finally",
    "in summary", "on balance", "as a result", "all told", "in short", "final", "in the end",
    "application", "applicant", "loan", "request", "transaction", "charge", "purchase", "case",
    "file", "trend",
)  # fmt: skip

#: Nouns after a decision word that make it the name of a rule or level ("denial reason",
#: "review threshold", "approval level"), not a decision.
TIER_NOUN_MODIFIED: tuple[str, ...] = (
    "reason", "reasons", "rule", "rules", "level", "levels", "threshold", "thresholds", "mark",
    "band", "limit", "zone", "range", "line", "criteria", "criterion", "trigger", "signal",
    "flag", "point", "territory", "cutoff", "score", "risk", "standard", "standards",
)  # fmt: skip

#: Words before a decision word that make it a rule's name ("hard block", "automatic approval").
TIER_PREMODIFIERS: tuple[str, ...] = ("automatic", "hard", "auto", "outright")

#: Clause boundaries inside a sentence.
CLAUSE_WORDS: tuple[str, ...] = (
    "but", "yet", "while", "whereas", "although", "though", "however", "even though", "except",
)  # fmt: skip

#: Unit words after a number -> the units of quantity it may cite.
UNIT_WORDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("month", "months"), frozenset({"months"})),
    **dict.fromkeys(("year", "years"), frozenset({"years"})),
    **dict.fromkeys(("day", "days"), frozenset({"days"})),
    **dict.fromkeys(("hour", "hours"), frozenset({"hours"})),
    **dict.fromkeys(("minute", "minutes"), frozenset({"minutes", "number", "integer", "count"})),
    **dict.fromkeys(("km/h", "kmh", "km per hour"), frozenset({"kmh", "number", "ratio"})),
    **dict.fromkeys(("km", "kilometres", "kilometers"), frozenset({"km"})),
    **dict.fromkeys(
        # "a 2-point threshold" of a utilization: percentage points, said short
        ("point", "points"),
        frozenset({"score", "count", "integer", "number", "percent", "fraction"}),
    ),
    **dict.fromkeys(("percentage point", "percentage points"), frozenset({"fraction", "percent"})),
    **dict.fromkeys(("standard deviation", "standard deviations"), frozenset({"number", "ratio"})),
}  # fmt: skip

#: Protected bases under ECOA / Regulation B and the everyday words for them. A word here is
#: a factor wherever it appears in an affirmative clause.
PROTECTED_WORDS: tuple[str, ...] = (
    "sex", "gender", "male", "female", "woman", "women", "man", "men", "pregnant", "pregnancy",
    "maternity", "paternity", "marital status", "married", "unmarried", "divorced", "divorcee",
    "widowed", "widow", "widower", "spouse", "husband", "wife", "single mother",
    "single father", "single parent", "race", "racial", "ethnicity", "ethnic", "colour",
    "color", "skin", "religion", "religious", "faith", "church", "mosque", "synagogue",
    "temple", "christian", "muslim", "jewish", "hindu", "buddhist", "catholic", "national origin",
    "nationality", "immigrant", "immigration", "foreign born", "citizenship", "ancestry",
    "hispanic", "latino", "latina", "caucasian", "african american", "asian american",
    "native american", "public assistance", "welfare", "food stamps", "benefits recipient",
    "elderly", "senior citizen", "pensioner", "retiree", "millennial", "boomer", "teenager",
    "age", "aged", "years old", "year old", "young", "younger", "youthful", "old", "older",
    "middle aged",
)  # fmt: skip

#: Protected words that are only a basis when said of a person (an account is "young" too).
PERSON_CONTEXT_WORDS: frozenset[str] = frozenset(
    {"age", "aged", "years old", "year old", "young", "younger", "youthful", "old", "older",
     "skin", "faith", "temple", "man", "men", "color", "colour"}
)  # fmt: skip

#: Words that name the subject of a case as a person (for PERSON_CONTEXT_WORDS).
PERSON_NOUNS: tuple[str, ...] = (
    "applicant", "applicant's", "applicants", "borrower", "borrower's", "customer",
    "customer's", "cardholder", "cardholder's", "person", "person's", "people", "individual",
    "client", "client's", "consumer", "he", "she", "his", "her", "their", "they", "him", "them",
    "someone", "household",
)  # fmt: skip

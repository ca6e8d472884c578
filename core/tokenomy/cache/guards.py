"""Hard false-hit guards for the semantic cache: cheap text checks that veto a candidate.

An embedding puts "What is the function of TV?" next to "What is the function of
money?", "tallest building in 2010" next to "in 2020", and a question next to its
negation. These checks read the surface text instead: numbers (digits, decimals,
years, ordinals, number words), negation words, opposite words ("allowed" vs
"forbidden", "legal" vs "illegal", "upload" vs "download"), named entities (acronyms,
capitalized words inside a sentence, quoted spans) and reversed relations ("Celsius
to Fahrenheit" vs "Fahrenheit to Celsius"). They are pure Python, take tens of
microseconds, and keep the analysis of recent texts in an LRU, so one query checked
against several candidates is analysed once.

What each guard costs and buys on QQP is measured by ``scripts/fit_cache_verifier.py``
(``benchmarks/results/cache_verifier_fit.json``).

Example:
    >>> check_pair("Tallest building in 2010?", "Tallest building in 2020?").reason
    "numbers differ: {'2010'} vs {'2020'}"
    >>> check_pair("What is the function of TV?", "What is the function of money?").ok
    False
    >>> check_pair("Is it legal to fly a drone here?", "Is it illegal to fly a drone here?").reason
    "polarity differs: 'legal' vs 'illegal'"
    >>> check_pair("How do I learn Python fast?", "How can I learn Python quickly?").ok
    True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from tokenomy.errors import ConfigError

__all__ = [
    "DEFAULT_GUARDS",
    "GUARDS",
    "GuardResult",
    "TextFacts",
    "analyze",
    "check_pair",
    "content_tokens",
    "entities",
    "has_negation",
    "missing_entities",
    "numbers",
    "opposite_words",
    "reversed_relation",
]

GUARDS: Final = ("numbers", "negation", "polarity", "entities", "order")
"""Every guard :func:`check_pair` knows, in the order it applies them."""

DEFAULT_GUARDS: Final = GUARDS
"""The guards on by default."""


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


STOPWORDS: Final = _set(
    """a an the and or but if then so of to in on at by for from with as into onto over
    under about than too very just also is are was were be been being am do does did
    doing done have has had having will would shall should can could may might must
    i me my mine we us our you your he him his she her it its they them their this
    that these those there here what which who whom whose when where why how whether
    get got any some such own same other more most much many each every all both
    up down out off again once only way ways best good really"""
)
"""Dropped from content tokens: function words and the fillers of question phrasing."""

NEGATIONS: Final = _set(
    "not no never none nobody nothing neither nor nowhere without cannot cant dont "
    "doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent "
    "hadnt aint"
)


def _enum(words: str, start: int = 0, step: int = 1) -> dict[str, int]:
    return {w: start + i * step for i, w in enumerate(words.split())}


_UNITS: Final = _enum(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS: Final = _enum("twenty thirty forty fifty sixty seventy eighty ninety", 20, 10)
_ORDINALS: Final = _enum(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth",
    1,
) | _enum("twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth", 20, 10)
_SCALES: Final = _enum("hundred hundredth", 100, 0) | _enum("thousand thousandth", 1000, 0)
_SCALES.update(_enum("million millionth", 10**6, 0) | {"billion": 10**9, "trillion": 10**12})
_NUMBER_WORDS: Final = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_ORDINALS)

# a digit run (with thousands commas or decimals), then an ordinal/plural/k suffix; or a word
_TOKEN: Final = re.compile(r"(\d+(?:[.,]\d+)*)(?:(st|nd|rd|th|s|k)(?![a-z]))?|[a-z]+(?:'[a-z]+)?")
_THOUSANDS: Final = re.compile(r"\d{1,3}(?:,\d{3})+")
_WORD_CASED: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:'[A-Za-z]+)?")
# a quoted span starts and ends with a non-space (so no "x" and "y" false span between two)
_QUOTED: Final = re.compile(
    r"\"([^\"\s][^\"]{0,58}[^\"\s])\"|(?<!\w)'([^'\s][^']{0,58}[^'\s])'(?!\w)"
)
_QUOTES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_SENTENCE_END: Final = frozenset('.?!:;("')
_SUBSTITUTION: Final = 2  # near-identical texts: at most 2 content words differ per side
# words that make "X <word> Y" directional, so "Y <word> X" asks something else
_RELATIONS: Final = _set(
    "to from into onto than of over after before vs versus against towards toward"
)


# Opposite words: each line pairs two families of words (any form of a word on the
# left opposes any form of a word on the right). Direction words are here too
# ("upload"/"download", "buy"/"sell"); reversed "X to Y" relations are the order guard's.
_OPPOSITES: Final = tuple(
    tuple(side.split())
    for line in """
    allow allowed permit permitted legal lawful | forbid forbidden prohibit prohibited ban banned
    allow allowed permit permitted legal lawful | disallow disallowed illegal unlawful
    include inclusive | exclude exclusive
    safe safer safest | unsafe dangerous
    good | bad
    better | worse
    best | worst
    over | under
    above | below
    before | after
    more | less fewer
    most | least
    high higher highest | low lower lowest
    increase | decrease reduce
    max maximum maximize | min minimum minimize
    advantage pro pros benefit | disadvantage con cons drawback downside
    positive | negative
    true | false
    buy | sell
    win | lose
    gain profit | loss
    pass | fail
    accept | reject
    start begin | stop end finish
    open | close
    enable | disable
    add | remove delete
    upload | download
    import | export
    input | output
    push | pull
    send | receive
    lend | borrow
    encrypt encode | decrypt decode
    ascend ascending | descend descending
    rise | fall
    hot warm | cold cool
    fast quick | slow
    cheap | expensive
    big large | small little
    long | short
    strong | weak
    rich | poor
    love | hate
    like | dislike
    agree | disagree
    possible | impossible
    early | late
    easy | hard difficult
    heavy | light
    happy | sad
    up | down
    inside | outside
    north | south
    east | west
    male man men boy | female woman women girl
    new | old
    """.strip().splitlines()
    for side in line.split("|")
)
# negative prefixes ("legal" / "illegal") and prefixes that swap a direction
# ("include" / "exclude", "upstream" / "downstream"), on roots of at least 4 letters
_NEGATIVE_PREFIXES: Final = ("un", "in", "im", "il", "ir", "dis", "non", "anti")
_SWAPPED_PREFIXES: Final = (
    ("in", "ex"),
    ("im", "ex"),
    ("in", "out"),
    ("in", "de"),
    ("en", "de"),
    ("up", "down"),
    ("over", "under"),
    ("max", "min"),
)


def _root(word: str) -> str:
    """A crude lemma for matching word forms: "included", "includes" -> "includ"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _opposite_roots() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for i in range(0, len(_OPPOSITES), 2):
        left, right = {_root(w) for w in _OPPOSITES[i]}, {_root(w) for w in _OPPOSITES[i + 1]}
        for w in left:
            table.setdefault(w, set()).update(right)
        for w in right:
            table.setdefault(w, set()).update(left)
    return {w: frozenset(v) for w, v in table.items()}


_OPPOSITE_ROOTS: Final = _opposite_roots()


def _opposed(x: str, y: str) -> bool:
    """Whether roots ``x`` and ``y`` are opposites (listed, or by a prefix)."""
    if y in _OPPOSITE_ROOTS.get(x, ()):
        return True
    for u, v in ((x, y), (y, x)):
        for p in _NEGATIVE_PREFIXES:
            if v == p + u and len(u) >= 4:
                return True
        for p, q in _SWAPPED_PREFIXES:
            stem = u[len(p) :]
            if u.startswith(p) and v.startswith(q) and stem == v[len(q) :] and len(stem) >= 3:
                return True
    return False


@dataclass(frozen=True)
class GuardResult:
    """The verdict of :func:`check_pair`.

    Attributes:
        ok: True when no guard objects to treating the two texts as the same question.
        reason: why a guard vetoed the pair, e.g. ``"numbers differ: {'2010'} vs {'2020'}"``;
            None when ``ok``.
    """

    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class TextFacts:
    """What the guards and the verifier read from one text (see :func:`analyze`).

    Attributes:
        tokens: all lower-cased word tokens, possessive ``'s`` removed, in order.
        content: the content tokens: ``tokens`` minus stopwords and negations, plural
            ``s`` dropped.
        numbers: normalized numbers, e.g. ``{'2010', '3.5', '2'}``.
        negated: whether the text holds a negation word.
        entities: lower-cased named entities and quoted spans.
    """

    tokens: tuple[str, ...]
    content: frozenset[str]
    numbers: frozenset[str]
    negated: bool
    entities: frozenset[str]


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _digits(raw: str, suffix: str | None) -> str:
    if _THOUSANDS.fullmatch(raw):
        raw = raw.replace(",", "")
    raw = raw.replace(",", ".")
    if "." in raw and raw.count(".") == 1:
        raw = raw.rstrip("0").rstrip(".") or "0"
    if not raw.startswith("0."):
        raw = raw.lstrip("0") or "0"
    if suffix == "k" and raw.isdigit():
        raw = str(int(raw) * 1000)
    return raw


def _words_value(words: list[str]) -> int:
    total = current = 0
    for w in words:
        if w in _SCALES:
            if _SCALES[w] == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * _SCALES[w]
                current = 0
        else:
            current += _UNITS.get(w, 0) + _TENS.get(w, 0) + _ORDINALS.get(w, 0)
    return total + current


def _numbers(text: str) -> frozenset[str]:
    found: set[str] = set()
    run: list[str] = []  # consecutive number words
    last_digit: str | None = None  # a digit token that a scale word may multiply

    def flush() -> None:
        # "one" alone is nearly always a pronoun ("which one is better?"), so skip it
        if run and run != ["one"] and any(w not in _SCALES for w in run):
            found.add(str(_words_value(run)))
        run.clear()

    for m in _TOKEN.finditer(text):
        raw, suffix, word = m.group(1), m.group(2), m.group(0)
        if raw is not None:
            flush()
            last_digit = _digits(raw, suffix)
            found.add(last_digit)
        elif word in _SCALES and last_digit is not None and last_digit.isdigit():
            found.discard(last_digit)  # "5 million" -> 5000000
            last_digit = str(int(last_digit) * _SCALES[word])
            found.add(last_digit)
        elif word in _NUMBER_WORDS or (word in _SCALES and run):
            run.append(word)
            last_digit = None
        elif word == "and" and run:
            continue
        else:
            flush()
            last_digit = None
    flush()
    return frozenset(found)


def _entities(text: str) -> frozenset[str]:
    words = list(_WORD_CASED.finditer(text))
    n = len(words)
    # In Title Case Or ALL CAPS text, capitals say nothing about names. Title Case
    # shows in capitalized function words ("How Do I ..."), unlike "Is Donald Trump ...".
    small = [m.group(0) for m in words[1:] if m.group(0).lower() in STOPWORDS - {"i"}]
    title_case = sum(w[0].isupper() for w in small) > len(small) / 2 if small else False
    upper = sum(1 for m in words if m.group(0).isupper() and len(m.group(0)) > 1)
    all_caps = n >= 3 and upper > 0.6 * n
    found: list[str] = []
    end = -1  # where the previous name ended: "Donald Trump" is one name
    for m in words:
        base = m.group(0).split("'")[0]
        lower = base.lower()
        i = m.start() - 1
        while i >= 0 and text[i].isspace():
            i -= 1
        if len(base) > 1 and any(c.isupper() for c in base[1:]):  # TV, iPhone, McDonald
            name = not all_caps
        else:
            name = base[0].isupper() and not title_case and base != "I"
            name = name and i >= 0 and text[i] not in _SENTENCE_END
            name = name and lower not in STOPWORDS and lower not in NEGATIONS
        if name:
            if found and i == end - 1 and i < m.start() - 1:
                found[-1] += " " + lower
            else:
                found.append(lower)
            end = m.end()
    for m in _QUOTED.finditer(text):
        span = " ".join(_words(m.group(1) or m.group(2)))
        if span:
            found.append(span)
    return frozenset(found)


def _words(text: str) -> list[str]:
    # "don't" -> "not"; "Trump's", "I'm" -> "trump", "i"
    out = [m.group(0) for m in _TOKEN.finditer(text.lower())]
    return ["not" if w.endswith("n't") else w.split("'")[0] for w in out]


@lru_cache(maxsize=4096)
def analyze(text: str) -> TextFacts:
    """The :class:`TextFacts` of ``text`` (the 4,096 most recent texts are cached)."""
    text = text.translate(_QUOTES)
    lower = text.lower()
    tokens = tuple(_words(lower))
    negated = any(t in NEGATIONS for t in tokens)
    content = frozenset(_stem(t) for t in tokens if t not in STOPWORDS and t not in NEGATIONS)
    return TextFacts(tokens, content, _numbers(lower), negated, _entities(text))


def numbers(text: str) -> frozenset[str]:
    """Normalized numbers in ``text``: digits, decimals, years, ordinals and number words.

    ``"1,000"`` → ``'1000'``, ``"2nd"``/``"second"`` → ``'2'``, ``"twenty-one"`` → ``'21'``,
    ``"5 million"`` → ``'5000000'``. A lone "one" is skipped (mostly a pronoun).
    """
    return analyze(text).numbers


def has_negation(text: str) -> bool:
    """Whether ``text`` holds a negation: not, n't, never, no, none, without, cannot, …"""
    return analyze(text).negated


def entities(text: str) -> frozenset[str]:
    """Lower-cased acronyms, mixed-case names, capitalized words inside a sentence, and
    quoted spans. Capitalization is ignored in Title Case or ALL CAPS text."""
    return analyze(text).entities


def content_tokens(text: str) -> frozenset[str]:
    """Lower-cased word tokens minus a small stopword list, plural ``s`` dropped."""
    return analyze(text).content


def _shared_prefix(x: str, y: str) -> int:
    n = 0
    for cx, cy in zip(x, y, strict=False):  # stops at the shorter word
        if cx != cy:
            break
        n += 1
    return n


def missing_entities(a: TextFacts, b: TextFacts) -> frozenset[str]:
    """Entities of ``a`` that ``b`` does not mention (case-insensitive).

    An entity counts as mentioned when each of its words occurs in ``b`` (or a word
    sharing its first 5+ letters and 60% of its length: "india" ~ "indian"), when it is
    two adjacent words of ``b`` run together ("iterabledataset"), or when it is an
    acronym of adjacent words of ``b`` ("nlp" for "natural language processing").
    """
    if not a.entities:
        return frozenset()
    tok = b.tokens
    words = set(tok) | {_stem(t) for t in tok}
    joined = {x + y for x, y in itertools.pairwise(tok)}
    initials = {"".join(t[0] for t in tok[i : i + k]) for k in range(2, 7) for i in range(len(tok))}

    def near(w: str) -> bool:  # "india" ~ "indian", "japan" ~ "japanese"; not "java" ~ "javascript"
        if w in words or _stem(w) in words:
            return True
        return len(w) >= 5 and any(
            _shared_prefix(w, t) >= max(5, 0.6 * max(len(w), len(t))) for t in tok
        )

    def mentioned(entity: str) -> bool:
        parts = _words(entity)
        if all(near(w) for w in parts):
            return True
        if len(parts) == 1:
            return entity in joined or entity in initials
        return "".join(parts) in words or "".join(p[0] for p in parts) in words

    return frozenset(e for e in a.entities if not mentioned(e))


def reversed_relation(a: TextFacts, b: TextFacts) -> tuple[str, str] | None:
    """Two content words that ``a`` and ``b`` link by the same relation word (to, from,
    of, than, vs, …; at most 5 tokens apart) in opposite orders: "Celsius to Fahrenheit"
    vs "Fahrenheit to Celsius" gives ``('celsius', 'fahrenheit')``. Plain reorderings
    ("apology letter" vs "letter of apology") and active/passive rewrites pass."""

    def places(facts: TextFacts) -> dict[str, int]:
        found: dict[str, int] = {}
        for i, t in enumerate(facts.tokens):
            if t not in STOPWORDS and t not in NEGATIONS:
                found.setdefault(_stem(t), i)
        return found

    def relations(tokens: tuple[str, ...], i: int, j: int) -> set[str]:
        return {t for t in tokens[i + 1 : j] if t in _RELATIONS} if 0 < j - i <= 6 else set()

    pa, pb = places(a), places(b)
    common = [w for w in pa if w in pb]
    for x in common:
        for y in common:
            reversed_ = pa[x] < pa[y] and pb[y] < pb[x]
            if reversed_ and relations(a.tokens, pa[x], pa[y]) & relations(b.tokens, pb[y], pb[x]):
                return (x, y)
    return None


def opposite_words(a: TextFacts, b: TextFacts) -> tuple[str, str] | None:
    """A word only ``a`` has and a word only ``b`` has that mean the opposite: listed
    opposites ("allowed"/"forbidden", "over"/"under", "buy"/"sell"), a negative prefix
    ("legal"/"illegal", "safe"/"unsafe") or a swapped direction prefix
    ("include"/"exclude", "upload"/"download"); or "non" on one side only. A text that
    holds both words of a pair ("advantages and disadvantages") opposes nothing."""
    roots_a = {_root(t): t for t in a.tokens}
    roots_b = {_root(t): t for t in b.tokens}
    only_a = [r for r in roots_a if r not in roots_b]
    only_b = [r for r in roots_b if r not in roots_a]
    for x in only_a:
        for y in only_b:
            if not _opposed(x, y):
                continue
            # "advantages and disadvantages" vs "pros and cons": both sides of a pair
            if any(_opposed(x, r) for r in roots_a) or any(_opposed(y, r) for r in roots_b):
                continue
            return (roots_a[x], roots_b[y])
    if ("non" in only_a) != ("non" in only_b):
        facts, other = (a, b) if "non" in only_a else (b, a)
        joined = {"non" + w for w in facts.tokens}  # "non linear" is "nonlinear"
        if not joined & set(other.tokens):
            return ("non", "") if facts is a else ("", "non")
    return None


def _fmt(values: frozenset[str]) -> str:
    return "{" + ", ".join(repr(v) for v in sorted(values)) + "}"


def check_pair(
    query: str, candidate: str, *, guards: Collection[str] = DEFAULT_GUARDS
) -> GuardResult:
    """Veto a cached candidate that cannot be the same question as ``query``.

    The guards, applied in this order:

    - ``numbers``: the numbers conflict: each text has one the other lacks (``2010`` vs
      ``2020``), or only one text has any ("second largest" vs "largest"). Adding a
      number to a shared one ("CAT 2017" vs "CAT 2017 from August 2016") passes.
    - ``negation``: one text is negated and the other is not, and otherwise they differ
      by at most 2 content words each ("Is coffee good?" vs "Is coffee not good?").
    - ``polarity``: the texts differ by at most 2 content words each and one of them
      is the opposite of the other (see :func:`opposite_words`): "Is it allowed?" vs
      "Is it forbidden?", "include" vs "exclude", "upload" vs "download".
    - ``entities``: one text names an entity the other lacks, in a substitution: each
      text has 1 or 2 content words the other lacks ("function of TV" vs "function of
      money"). Adding or dropping a name ("Trump" vs "Donald Trump") passes, and so do
      longer rewrites, which the verifier judges.
    - ``order``: a relation is reversed (see :func:`reversed_relation`).

    Args:
        query: the incoming question.
        candidate: the cached question it was matched to.
        guards: the guards to apply, names from :data:`GUARDS` (default all).

    Returns:
        ``GuardResult(ok=True)``, or ``ok=False`` with the reason of the first veto.

    Raises:
        ConfigError: a guard name is not in :data:`GUARDS`.
    """
    unknown = set(guards) - set(GUARDS)
    if unknown:
        raise ConfigError(f"Unknown guards {sorted(unknown)}; valid names are {list(GUARDS)}.")
    a, b = analyze(query), analyze(candidate)
    na, nb = a.numbers, b.numbers
    if "numbers" in guards and na != nb and (not na or not nb or (na - nb and nb - na)):
        return GuardResult(False, f"numbers differ: {_fmt(na)} vs {_fmt(nb)}")
    # how many content words each text has that the other lacks, fewest first
    extra = sorted((len(a.content - b.content), len(b.content - a.content)))
    if "negation" in guards and a.negated != b.negated and extra[1] <= _SUBSTITUTION:
        side = "query" if a.negated else "candidate"
        return GuardResult(False, f"negation differs: only the {side} is negated")
    if "polarity" in guards and extra[1] <= _SUBSTITUTION:
        opposed = opposite_words(a, b)
        if opposed:
            return GuardResult(False, f"polarity differs: {opposed[0]!r} vs {opposed[1]!r}")
    if "entities" in guards:
        miss_a, miss_b = missing_entities(a, b), missing_entities(b, a)
        if (miss_a or miss_b) and extra[0] >= 1 and extra[1] <= _SUBSTITUTION:
            return GuardResult(False, f"entities differ: {_fmt(miss_a)} vs {_fmt(miss_b)}")
    swapped = reversed_relation(a, b) if "order" in guards else None
    if swapped:
        return GuardResult(False, f"order differs: {swapped[0]!r} and {swapped[1]!r} reversed")
    return GuardResult(True)

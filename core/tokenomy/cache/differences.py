"""What differs between two questions, and whether the difference changes the answer.

:func:`diff` aligns the words of a new question with those of a cached one. Words both
share (after lower-casing, contractions, plural and tense endings, spelled-out units
and abbreviations) are set aside; so are function words. What is left is the
difference, read in two ways:

- **Meaning-changing differences**, each with a named reason (:data:`REASONS`): a
  negation on one side only, an antonym or polarity pair ("safe"/"unsafe",
  "enable"/"disable"), an opposite direction ("over"/"under", "before"/"after",
  "to"/"from", "buy"/"sell"), swapped arguments ("convert A to B"/"B to A"), other
  numbers, ordinals, units, dates, named entities, quantifiers ("all"/"some"), scope
  ("only"), modality ("can"/"should"/"must"), or content words with no counterpart
  of like meaning on the other side ("password"/"username").
- **Alignment features** (:data:`DIFF_FEATURES`) for the learned score of
  :class:`~tokenomy.cache.diff_verifier.DiffVerifier`: how many content words each
  side has that the other lacks, how close each comes to a word of the other side
  (MiniLM word-piece vectors), the sentence cosine, and so on.

Everything here is pure Python over word lists; the word vectors come in through
``word_sim`` so the rules can be tested without the model.

Example:
    >>> diff("Is it safe to eat raw eggs?", "Is it unsafe to eat raw eggs?").reason
    'antonym'
    >>> diff("How do I convert miles to km?", "How do I convert km to miles?").reason
    'swapped_args'
    >>> diff("How many km is a marathon?", "How many kilometers is a marathon?").reason is None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from tokenomy.cache.guards import (
    _opposed,
    _root,
    analyze,
    missing_entities,
)
from tokenomy.cache.lexicon import (
    AFTER_NUMBER_ONLY,
    BEFORE_NOUN,
    CANON,
    CONTRACTIONS,
    DATE_WORDS,
    DIRECTIONS,
    EXTRA_OPPOSITES,
    FUNCTION_WORDS,
    MODALS,
    NEAR,
    NEGATION_WORDS,
    ORDINAL_WORDS,
    QUANTIFIERS,
    QUOTES,
    RELATIONS,
    SCOPE_WORDS,
    UNITS,
    WORD,
)

__all__ = ["DIFF_FEATURES", "REASONS", "Difference", "diff", "words"]

REASONS: Final = (
    "negation",
    "antonym",
    "direction",
    "swapped_args",
    "numbers",
    "ordinal",
    "units",
    "dates",
    "entities",
    "quantifier",
    "scope",
    "modality",
    "content_words",
)
"""Why a difference changes the answer; the last, ``content_words``, is the learned
score's refusal (content words without a counterpart of like meaning)."""

DIFF_FEATURES: Final = (
    "cosine",  # sentence cosine of the two MiniLM vectors
    "only_max",  # content words one side lacks: the larger side's count
    "only_min",  # ... the smaller side's count
    "unmatched_max",  # of those, words with no near counterpart (word sim < 0.55)
    "unmatched_min",
    "sim_min",  # the lowest best-match word similarity among them (1.0 if none)
    "sim_mean",  # their mean best-match similarity (1.0 if none)
    "shared_share",  # shared content words / all content words
    "function_only",  # 1.0 when the texts differ only in function words or order
    "length_ratio",  # shorter / longer word count
    "noun_swaps",  # unmatched words in a noun slot on both sides ("my email" / "my phone")
)
"""The alignment features of :attr:`Difference.features`, in order."""


@dataclass(frozen=True)
class Difference:
    """What :func:`diff` found between two questions.

    Attributes:
        reason: the first meaning-changing difference, a name from :data:`REASONS`
            other than ``content_words`` (that one is the learned score's), or None.
        detail: the words behind ``reason``, e.g. ``"'safe' vs 'unsafe'"``.
        only_a: content words (canonical) only the first text has.
        only_b: content words only the second text has.
        features: the :data:`DIFF_FEATURES` values, in order.
    """

    reason: str | None
    detail: str
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    features: tuple[float, ...]


@lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    """Lower-cased words of ``text``, contractions opened ("what's" -> what is,
    "doesn't" -> does not) and abbreviations and units in one canonical spelling."""
    out: list[str] = []
    prev_number = False
    for raw in WORD.findall(text.translate(QUOTES).lower()):
        if raw in CONTRACTIONS:
            out.extend(CONTRACTIONS[raw])
            prev_number = False
            continue
        if raw.endswith("n't"):
            out.extend((raw[:-3] or "do", "not"))
            prev_number = False
            continue
        raw = raw.split("'")[0]
        if raw in AFTER_NUMBER_ONLY and not prev_number:
            out.append(raw)
        else:
            out.append(CANON.get(raw, raw))
        prev_number = raw[0].isdigit()
    return tuple(out)


def _lemma(word: str) -> str:
    canon = CANON.get(word, word)
    if canon != word or word[0].isdigit():
        return canon
    return _root(word)


def _content(tokens: tuple[str, ...]) -> dict[str, str]:
    """Content words as ``{lemma: the word as written}``."""
    skip = FUNCTION_WORDS | NEGATION_WORDS | SCOPE_WORDS
    out: dict[str, str] = {}
    for t in tokens:
        if t in skip or t in MODALS or t in QUANTIFIERS:
            continue
        if any(t in side for pair in DIRECTIONS for side in pair):
            continue
        if t in ("will", "would", "shall", "can", "need", "want", "like"):
            continue
        out.setdefault(_lemma(t), t)
    return out


def _classes(tokens: tuple[str, ...], table: dict[str, str]) -> frozenset[str]:
    return frozenset(table[t] for t in tokens if t in table)


def _negations(tokens: tuple[str, ...]) -> int:
    return sum(t in NEGATION_WORDS for t in tokens)


def _opposite(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, str] | None:
    """An antonym pair: a word only ``a`` has against a word only ``b`` has."""
    ra = {_variants_root(t): t for t in a}
    rb = {_variants_root(t): t for t in b}
    only_a = [r for r in ra if r not in rb]
    only_b = [r for r in rb if r not in ra]
    extra = {frozenset(p) for p in EXTRA_OPPOSITES}
    for x in only_a:
        for y in only_b:
            if _opposed(x, y) or frozenset((ra[x], rb[y])) in extra or frozenset((x, y)) in extra:
                # "pros and cons": a side that holds both words opposes nothing
                if any(_opposed(x, r) for r in ra if r != x) or any(
                    _opposed(y, r) for r in rb if r != y
                ):
                    continue
                return ra[x], rb[y]
    return None


def _variants_root(word: str) -> str:
    """The guard lexicon's root, with comparatives reduced ("longer" -> "long",
    "bigger" -> "big", "larger" -> "large")."""
    for suffix in ("est", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            for cand in (stem, stem[:-1] if stem[-1:] == stem[-2:-1] else "", stem + "e"):
                if cand and (_root(cand) in _LEXICON_ROOTS):
                    return _root(cand)
    return _root(word)


def _lexicon_roots() -> frozenset[str]:
    from tokenomy.cache.guards import _OPPOSITE_ROOTS

    return frozenset(_OPPOSITE_ROOTS)


_LEXICON_ROOTS: Final = _lexicon_roots()


def _direction(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, str] | None:
    sa, sb = set(a), set(b)
    for left, right in DIRECTIONS:
        for x, y in ((left, right), (right, left)):
            ax, by = sa & x - sb, sb & y - sa
            if ax and by and not (sa & y) and not (sb & x):
                return min(ax), min(by)
    return None


def _swapped(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, str] | None:
    """Two content words linked by the same relation word in opposite orders."""

    def places(tokens: tuple[str, ...]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i, t in enumerate(tokens):
            if t not in FUNCTION_WORDS and t not in RELATIONS:
                found.setdefault(_lemma(t), i)
        return found

    def links(tokens: tuple[str, ...], i: int, j: int) -> set[str]:
        return {t for t in tokens[i + 1 : j] if t in RELATIONS} if 0 < j - i <= 6 else set()

    pa, pb = places(a), places(b)
    lemma_at = {i: w for w, i in pa.items()}
    for x, i in pa.items():  # y at most 6 tokens after x in a: linear in the text length
        if x not in pb:
            continue
        for j in range(i + 1, min(i + 7, len(a))):
            y = lemma_at.get(j)
            if y in pb and pb[y] < pb[x] and links(a, i, j) & links(b, pb[y], pb[x]):
                return x, y
    return None


def _numbers(text: str, tokens: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(numbers, ordinal words) of a text."""
    ordinals = frozenset(t for t in tokens if t in ORDINAL_WORDS)
    return analyze(text).numbers, ordinals


def _rules(a: str, b: str, ta: tuple[str, ...], tb: tuple[str, ...]) -> tuple[str, str] | None:
    """The first meaning-changing difference the word lists show, as (reason, detail)."""
    if _negations(ta) % 2 != _negations(tb) % 2:
        return "negation", "only one of them is negated"
    na, oa = _numbers(a, ta)
    nb, ob = _numbers(b, tb)
    if oa - ob and ob - oa:
        return "ordinal", f"{sorted(oa)} vs {sorted(ob)}"
    if na != nb and (not na or not nb or (na - nb and nb - na)):
        return "numbers", f"{sorted(na)} vs {sorted(nb)}"
    direction = _direction(ta, tb)
    if direction:
        return "direction", f"{direction[0]!r} vs {direction[1]!r}"
    opposed = _opposite(ta, tb)
    if opposed:
        return "antonym", f"{opposed[0]!r} vs {opposed[1]!r}"
    swapped = _swapped(ta, tb)
    if swapped:
        return "swapped_args", f"{swapped[0]!r} and {swapped[1]!r} swapped"
    ua, ub = UNITS & set(ta), UNITS & set(tb)
    if ua - ub and ub - ua:
        return "units", f"{sorted(ua)} vs {sorted(ub)}"
    da, db = DATE_WORDS & set(ta), DATE_WORDS & set(tb)
    if da != db and da - db and db - da:
        return "dates", f"{sorted(da)} vs {sorted(db)}"
    fa, fb = analyze(a), analyze(b)
    miss_a, miss_b = missing_entities(fa, fb), missing_entities(fb, fa)
    if miss_a and miss_b:
        return "entities", f"{sorted(miss_a)} vs {sorted(miss_b)}"
    qa, qb = _classes(ta, QUANTIFIERS), _classes(tb, QUANTIFIERS)
    if qa != qb and ((qa - qb and qb - qa) or (qa | qb) - {"some"}):
        return "quantifier", f"{sorted(qa)} vs {sorted(qb)}"
    sa, sb = SCOPE_WORDS & set(ta), SCOPE_WORDS & set(tb)
    if bool(sa) != bool(sb) and (sa | sb) - {"just"}:
        return "scope", f"{sorted(sa)} vs {sorted(sb)}"
    ma, mb = _classes(ta, MODALS), _classes(tb, MODALS)
    if ma and mb and ma != mb:
        return "modality", f"{sorted(ma)} vs {sorted(mb)}"
    return None


_MAX_SIM_PAIRS: Final = 400


def _in_noun_slot(tokens: tuple[str, ...], targets: set[str]) -> int:
    """How many of ``targets`` follow a determiner, possessive or preposition
    (directly or after one adjective-like word)."""
    found = set()
    for i, t in enumerate(tokens):
        if t in targets and (
            (i >= 1 and tokens[i - 1] in BEFORE_NOUN)
            or (i >= 2 and tokens[i - 2] in BEFORE_NOUN and tokens[i - 1] not in FUNCTION_WORDS)
        ):
            found.add(t)
    return len(found)


def _edit1(x: str, y: str) -> bool:
    """Spelling variants: one edit apart, both at least 4 letters, same first letter."""
    if min(len(x), len(y)) < 4 or x[0] != y[0] or abs(len(x) - len(y)) > 1:
        return False
    if len(x) == len(y):
        return sum(c != d for c, d in zip(x, y, strict=True)) == 1
    short, long_ = sorted((x, y), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def diff(
    a: str,
    b: str,
    *,
    cosine: float = 1.0,
    word_sim: Callable[[str, str], float] | None = None,
) -> Difference:
    """Align two questions and read what differs.

    Args:
        a: the incoming question.
        b: the cached question.
        cosine: the two questions' sentence cosine (a feature only).
        word_sim: similarity in [-1, 1] of two words (default: equal or not);
            :class:`~tokenomy.cache.diff_verifier.WordVectors` gives MiniLM's.

    Returns:
        The :class:`Difference`; ``reason`` is None when no rule refuses the pair.
    """
    ta, tb = words(a), words(b)
    rule = _rules(a, b, ta, tb)
    ca, cb = _content(ta), _content(tb)
    sa, sb = set(ca), set(cb)
    only_a, only_b = sorted(sa - sb), sorted(sb - sa)
    # word similarity is quadratic in the differing words: long texts compare spelling only
    if len(only_a) * len(cb) + len(only_b) * len(ca) > _MAX_SIM_PAIRS:
        word_sim = None
    sim = word_sim or (lambda x, y: float(x == y))

    def best(word: str, others: dict[str, str]) -> float:
        if not others:
            return 0.0
        return max(1.0 if _edit1(word, o) else sim(word, o) for o in others.values())

    # an unshared word's best counterpart is any content word of the other side
    best_a = [best(ca[w], cb) for w in only_a]
    best_b = [best(cb[w], ca) for w in only_b]
    sims = best_a + best_b
    unmatched = sorted((sum(s < NEAR for s in best_a), sum(s < NEAR for s in best_b)))
    n_only = sorted((len(only_a), len(only_b)))
    nouns = min(
        _in_noun_slot(ta, {ca[w] for w, s in zip(only_a, best_a, strict=True) if s < NEAR}),
        _in_noun_slot(tb, {cb[w] for w, s in zip(only_b, best_b, strict=True) if s < NEAR}),
    )
    union = sa | sb
    longer = max(len(ta), len(tb)) or 1
    features = (
        cosine,
        float(n_only[1]),
        float(n_only[0]),
        float(unmatched[1]),
        float(unmatched[0]),
        min(sims) if sims else 1.0,
        sum(sims) / len(sims) if sims else 1.0,
        len(sa & sb) / len(union) if union else 1.0,
        float(not only_a and not only_b),
        min(len(ta), len(tb)) / longer,
        float(nouns),
    )
    reason, detail = rule if rule else (None, "")
    return Difference(reason, detail, tuple(only_a), tuple(only_b), features)

"""The word lists behind :mod:`tokenomy.cache.differences`: function words, negations,
modal verbs, quantifiers, scope, date and ordinal words, direction classes, units and
abbreviations in one canonical spelling, and antonyms the guard lexicon lacks."""

from __future__ import annotations

import re
from typing import Final

WORD: Final = re.compile(
    r"2fa|\d+(?:st|nd|rd|th)\b|\d+(?:[.,]\d+)*|[a-z][a-z0-9]*(?:'[a-z]+)?|[$%/&+#]"
)
QUOTES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# words before a noun: a word after one of these that is swapped for an unrelated
# word ("my password" / "my username") usually changes the answer; a verb does less
BEFORE_NOUN: Final = word_set(
    "a an the my your his her our their its this that these those of for with about some "
    "any each every"
)
NEAR: Final = 0.55  # word similarity of a near counterpart ("big"/"large" 0.59)


# Words that carry no content of their own: articles, pronouns, auxiliaries, question
# words, politeness. Modal verbs, quantifiers and directions are read separately.
FUNCTION_WORDS: Final = word_set(
    """a an the and or but if then so of in on at by for with as about is are was were be
    been being am do does did doing done have has having i me my mine we us our you your
    yours he him his she her it its they them their this that these those there here what
    which who whom whose when where why how whether please tell give let know just also
    really actually possible way ways one thing things kind sort exactly there's it's
    get got any some own same other else again ok okay too very s"""
) - {"any", "some"}

CONTRACTIONS: Final = {
    "what's": ("what", "is"),
    "it's": ("it", "is"),
    "that's": ("that", "is"),
    "there's": ("there", "is"),
    "how's": ("how", "is"),
    "who's": ("who", "is"),
    "where's": ("where", "is"),
    "i'm": ("i", "am"),
    "won't": ("will", "not"),
    "can't": ("can", "not"),
    "cannot": ("can", "not"),
    "shan't": ("shall", "not"),
}

# one canonical spelling for abbreviations, units spelled out, and British spellings
CANON_TEXT: Final = """
km kilometer kilometre kilometers kilometres = kilometer | cm centimeter centimeters
centimetre centimetres = centimeter | mm millimeter millimeters millimetre = millimeter |
m meter meters metre metres = meter | mi mile miles = mile | ft foot feet = foot |
inch inches = inch | yd yard yards = yard | kg kilogram kilograms kilo kilos = kilogram |
g gram grams gramme = gram | lb lbs pound pounds = pound | oz ounce ounces = ounce |
l liter liters litre litres = liter | ml milliliter milliliters millilitre = milliliter |
gal gallon gallons = gallon | tbsp tablespoon tablespoons = tablespoon | tsp teaspoon
teaspoons = teaspoon | mb megabyte megabytes = megabyte | gb gigabyte gigabytes = gigabyte
| kb kilobyte kilobytes = kilobyte | tb terabyte terabytes = terabyte | byte bytes = byte
| sec secs second seconds = second | min mins minute minutes = minute | hr hrs hour hours
= hour | day days = day | week weeks = week | month months = month | year years yr yrs
= year | % percent per_cent = percent | $ usd dollar dollars buck bucks = dollar | eur euro
euros = euro | c celsius centigrade = celsius | f fahrenheit = fahrenheit | mph = mph |
cup cups = cup | quart quarts qt = quart | usa us america = usa | uk britain = uk |
un = un | 2fa = two_factor | dict dictionary dictionaries = dictionary | int integer
integers = integer | str string strings = string | db database = database | app
application = app | pic picture photo photos pictures = photo | tyre tire tyres tires = tire
| colour color = color | favourite favorite = favorite | 1st first = first | 2nd = second_ord
| 3rd third = third | 5 five = 5 | / divided = divided
"""
GROUPS: Final = [g for g in CANON_TEXT.replace("\n", " ").split("|") if g.strip()]
assert all(g.count("=") == 1 for g in GROUPS), "each canonical group needs one '='"
CANON: Final = {
    word: group.split("=")[1].strip() for group in GROUPS for word in group.split("=")[0].split()
}
# units (canonical names); "m", "g", "c", "f", "l" count as units only after a number
UNITS: Final = word_set(
    """kilometer centimeter millimeter meter mile foot inch yard kilogram gram pound ounce
    liter milliliter gallon tablespoon megabyte gigabyte kilobyte terabyte byte second
    minute hour day week month year percent dollar euro celsius fahrenheit kelvin mph cup
    quart"""
)
AFTER_NUMBER_ONLY: Final = word_set("m g c f l s")

NEGATION_WORDS: Final = word_set(
    "not no never none nobody nothing neither nor nowhere without n't dont doesnt didnt "
    "isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent"
)
# each modal class; "can" and "could" ask the same ("Can you..." / "Could you...")
MODALS: Final = {
    **dict.fromkeys(("can", "could", "able"), "can"),
    **dict.fromkeys(("may", "might"), "may"),
    **dict.fromkeys(("should", "ought"), "should"),
    **dict.fromkeys(("must",), "must"),
}
QUANTIFIERS: Final = {
    **dict.fromkeys(("all", "every", "each", "everyone", "anyone", "anybody"), "all"),
    **dict.fromkeys(("some", "any", "several"), "some"),
    **dict.fromkeys(("most",), "most"),
    **dict.fromkeys(("few",), "few"),
    **dict.fromkeys(("both",), "both"),
}
SCOPE_WORDS: Final = word_set("only just solely exclusively")
DATE_WORDS: Final = word_set(
    """today tomorrow yesterday tonight now morning evening weekend weekends weekday
    weekdays monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august september october november december next last this
    previous upcoming"""
)
ORDINAL_WORDS: Final = word_set(
    "first second_ord second third fourth fifth sixth seventh eighth ninth tenth last "
    "final next previous penultimate"
)
# direction classes: a word of one side facing a word of the other side
DIRECTIONS: Final = (
    (word_set("to into towards toward onto"), word_set("from")),
    (word_set("over above more greater exceeding beyond"), word_set("under below less fewer")),
    (word_set("before prior until"), word_set("after following since")),
    (word_set("within inside during"), word_set("after outside beyond")),
    (word_set("forward forwards"), word_set("backward backwards back")),
    (word_set("in"), word_set("out")),
    (word_set("with"), word_set("without")),
    (word_set("up"), word_set("down")),
    (word_set("on"), word_set("off")),
)
# words linking two arguments in an order that matters ("A to B", "A divided by B")
RELATIONS: Final = word_set("to from into than of over after before vs versus against by per")
# extra antonyms the shared guard lexicon lacks (one pair a line)
EXTRA_OPPOSITES: Final = tuple(
    tuple(pair.split("|"))
    for pair in word_set(
        """zip|unzip pin|unpin mute|unmute tie|untie hide|show lock|unlock
        serialize|deserialize compress|decompress plus|minus plus|times minus|times
        raise|lower raises|lowers cheap|expensive weekday|weekend weekdays|weekends
        square|root derivative|integral boiling|freezing old|tall tall|short start|end
        forward|backward kid|adult kids|adults child|adult children|adults infant|adult
        infants|adults baby|adult"""
    )
)

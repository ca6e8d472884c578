"""Build the semantic cache's contrast set: hand-written question pairs, labelled.

Command (from the repository root):
    python scripts/build_contrast_set.py

Writes benchmarks/data/cache_contrast.jsonl, one pair a line:
``{"a", "b", "same", "kind", "domain", "group", "split"}``. ``same`` is true for a
paraphrase (the cached answer is right for both) and false for a minimal pair (a small
edit that changes the answer). ``kind`` names the edit (``synonym``, ``negation``,
``swapped_args``...). Every pair is written by hand here, either spelled out in
:data:`HAND` or as a family: one hand-written template pair filled with hand-picked
fillers (the family shares a ``group``). ``split`` is ``tune`` or ``test``, fixed by a
hash of the group, so a family's pairs never straddle the halves: nothing is fitted
on ``test``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "data" / "cache_contrast.jsonl"

P, M = True, False  # paraphrase, minimal pair

# (a, b, same, kind, domain), each written out by hand
HAND: list[tuple[str, str, bool, str, str]] = [
    # --- paraphrases -------------------------------------------------------------
    ("Which city is the capital of France?", "What is the capital of France?", P, "wh_word", "facts"),
    ("Who is the author of Pride and Prejudice?", "Who wrote Pride and Prejudice?", P, "voice", "facts"),
    ("Is the number 97 prime?", "Is 97 a prime number?", P, "question_form", "math"),
    ("How does TCP differ from UDP?", "What is the difference between TCP and UDP?", P, "question_form", "coding"),
    ("How do I reset my password?", "How can I reset my password?", P, "function_words", "support"),
    ("How do I change my email address?", "How can I update my email address?", P, "synonym", "support"),
    ("Where can I download my invoice?", "Where do I get my invoice?", P, "synonym", "support"),
    ("How do I cancel my subscription?", "How can I cancel my subscription?", P, "function_words", "support"),
    ("What is your refund policy?", "What's your refund policy?", P, "contraction", "support"),
    ("How long does shipping take?", "How long does delivery take?", P, "synonym", "shopping"),
    ("Do you ship internationally?", "Do you offer international shipping?", P, "question_form", "shopping"),
    ("Can I return an item after 30 days?", "Is it possible to return an item after 30 days?", P, "question_form", "shopping"),
    ("How do I track my order?", "How can I track my package?", P, "synonym", "shopping"),
    ("What payment methods do you accept?", "Which payment methods do you accept?", P, "wh_word", "shopping"),
    ("Is there a student discount?", "Do you have a student discount?", P, "question_form", "shopping"),
    ("How do I reverse a list in Python?", "In Python, how do I reverse a list?", P, "reorder", "coding"),
    ("How do I read a file line by line in Python?", "In Python, how can I read a file line by line?", P, "reorder", "coding"),
    ("What does the yield keyword do in Python?", "What is the purpose of the yield keyword in Python?", P, "question_form", "coding"),
    ("How do I undo the last git commit?", "How can I revert my most recent git commit?", P, "synonym", "coding"),
    ("How do I install numpy?", "How to install numpy?", P, "question_form", "coding"),
    ("What is a closure in JavaScript?", "What are closures in JavaScript?", P, "inflection", "coding"),
    ("How do I sort a dictionary by value in Python?", "How can I sort a Python dict by its values?", P, "abbreviation", "coding"),
    ("What is the time complexity of binary search?", "What's the runtime complexity of binary search?", P, "synonym", "coding"),
    ("How do I center a div in CSS?", "How can I center a div using CSS?", P, "function_words", "coding"),
    ("Why is my Docker container exiting immediately?", "Why does my Docker container exit immediately?", P, "inflection", "coding"),
    ("What is the boiling point of water?", "At what temperature does water boil?", P, "question_form", "facts"),
    ("How tall is Mount Everest?", "What is the height of Mount Everest?", P, "question_form", "facts"),
    ("When did World War II end?", "In what year did World War II end?", P, "wh_word", "facts"),
    ("Who painted the Mona Lisa?", "Who is the painter of the Mona Lisa?", P, "voice", "facts"),
    ("By whom was the telephone invented?", "Who invented the telephone?", P, "voice", "facts"),
    ("How many people live in Tokyo?", "What is the population of Tokyo?", P, "question_form", "facts"),
    ("What language is spoken in Brazil?", "Which language do people speak in Brazil?", P, "wh_word", "facts"),
    ("How far is the Moon from the Earth?", "What is the distance between the Earth and the Moon?", P, "question_form", "facts"),
    ("What is the square root of 144?", "What's the square root of 144?", P, "contraction", "math"),
    ("What is 15% of 80?", "What is 15 percent of 80?", P, "abbreviation", "math"),
    ("How do I calculate the area of a circle?", "What is the formula for the area of a circle?", P, "question_form", "math"),
    ("What is the derivative of sin x?", "What's the derivative of sin(x)?", P, "contraction", "math"),
    ("How many seconds are in an hour?", "How many seconds does an hour have?", P, "question_form", "math"),
    ("What are the symptoms of the flu?", "What symptoms does the flu cause?", P, "question_form", "health"),
    ("How much water should I drink every day?", "How much water should I drink daily?", P, "synonym", "health"),
    ("Is it safe to take ibuprofen with alcohol?", "Can I safely take ibuprofen with alcohol?", P, "question_form", "health"),
    ("What causes high blood pressure?", "What are the causes of high blood pressure?", P, "question_form", "health"),
    ("How many hours of sleep does an adult need?", "How much sleep does an adult need?", P, "synonym", "health"),
    ("What are the side effects of aspirin?", "What side effects does aspirin have?", P, "question_form", "health"),
    ("Can you explain that again?", "Could you explain that again?", P, "function_words", "chat"),
    ("Can you make it shorter?", "Could you make it shorter?", P, "function_words", "chat"),
    ("Give me an example.", "Can you give me an example?", P, "question_form", "chat"),
    ("What do you mean by that?", "What did you mean by that?", P, "inflection", "chat"),
    ("Summarize this in one sentence.", "Give me a one sentence summary of this.", P, "question_form", "chat"),
    ("Translate that into French.", "Can you translate that to French?", P, "question_form", "chat"),
    ("How do I make cold brew coffee?", "What is the way to make cold brew coffee?", P, "question_form", "howto"),
    ("How do I tie a tie?", "How can I tie a necktie?", P, "synonym", "howto"),
    ("How do I remove a stripped screw?", "How can I get a stripped screw out?", P, "synonym", "howto"),
    ("How long should I boil an egg?", "How many minutes should I boil an egg?", P, "synonym", "howto"),
    ("How do I unclog a drain?", "How can I clear a clogged drain?", P, "synonym", "howto"),
    ("How do I change a flat tire?", "How to change a flat tyre?", P, "spelling", "howto"),
    ("What is the color of the sky?", "What is the colour of the sky?", P, "spelling", "facts"),
    ("How many ounces are in a pound?", "How many oz are in a lb?", P, "abbreviation", "math"),
    ("How many km is a marathon?", "How many kilometers is a marathon?", P, "units_spelled", "facts"),
    ("How many MB are in a GB?", "How many megabytes are in a gigabyte?", P, "units_spelled", "coding"),
    ("What is the speed of light in km/s?", "What is the speed of light in kilometers per second?", P, "units_spelled", "facts"),
    ("What is the capital of the USA?", "What is the capital of the United States?", P, "abbreviation", "facts"),
    ("When was the UN founded?", "When was the United Nations founded?", P, "abbreviation", "facts"),
    ("What does an API do?", "What is the role of an API?", P, "question_form", "coding"),
    ("Why is the sky blue?", "What makes the sky blue?", P, "wh_word", "facts"),
    ("Why do cats purr?", "What is the reason cats purr?", P, "wh_word", "facts"),
    ("Which is the largest ocean on Earth?", "What is the largest ocean on Earth?", P, "wh_word", "facts"),
    ("What's the best way to learn Spanish?", "How can I best learn Spanish?", P, "wh_word", "howto"),
    ("My order arrived damaged, what should I do?", "What should I do if my order arrived damaged?", P, "reorder", "support"),
    ("The app keeps crashing on startup, how do I fix it?", "How do I fix the app crashing on startup?", P, "reorder", "support"),
    ("I forgot my password, how do I log in?", "How do I log in if I forgot my password?", P, "reorder", "support"),
    ("Is 2FA available for my account?", "Is two-factor authentication available for my account?", P, "abbreviation", "support"),
    ("Does the plan include customer support?", "Is customer support included in the plan?", P, "voice", "support"),
    ("Who discovered penicillin?", "Penicillin was discovered by whom?", P, "voice", "facts"),
    ("What is the tallest building in the world?", "Which building is the tallest in the world?", P, "wh_word", "facts"),
    ("What is the chemical symbol for gold?", "What's gold's chemical symbol?", P, "reorder", "facts"),
    ("How do I convert a string to an integer in Java?", "In Java, how do you convert a string into an int?", P, "abbreviation", "coding"),
    ("What is the difference between a list and a tuple?", "How does a list differ from a tuple?", P, "question_form", "coding"),
    ("How can I make my website load faster?", "How do I speed up my website?", P, "synonym", "howto"),
    ("What are good exercises for lower back pain?", "Which exercises help with lower back pain?", P, "wh_word", "health"),
    ("How much does shipping cost?", "What is the shipping cost?", P, "question_form", "shopping"),
    ("What sizes does this shirt come in?", "Which sizes is this shirt available in?", P, "voice", "shopping"),
    ("Is this laptop in stock?", "Do you have this laptop in stock?", P, "question_form", "shopping"),
    ("And what about on weekends?", "What about on weekends?", P, "function_words", "chat"),
    ("Why is that?", "Why is that so?", P, "function_words", "chat"),
    ("Tell me more about the second option.", "Can you tell me more about the second option?", P, "question_form", "chat"),
    # --- minimal pairs ------------------------------------------------------------
    ("Is it safe to take ibuprofen with alcohol?", "Is it unsafe to take ibuprofen with alcohol?", M, "antonym", "health"),
    ("Is coffee good for your health?", "Is coffee bad for your health?", M, "antonym", "health"),
    ("Which city is the capital of France?", "Which city is the capital of Germany?", M, "entity", "facts"),
    ("Who wrote Pride and Prejudice?", "Who wrote Sense and Sensibility?", M, "entity", "facts"),
    ("Is 97 a prime number?", "Is 91 a prime number?", M, "number", "math"),
    ("How does TCP differ from UDP?", "How does TCP differ from IP?", M, "entity", "coding"),
    ("How do I reset my password?", "How do I reset my username?", M, "content_word", "support"),
    ("Can I cancel my subscription?", "Can I pause my subscription?", M, "content_word", "support"),
    ("Why is my phone not charging?", "Why is my phone charging slowly?", M, "content_word", "support"),
    ("Why is my laptop not turning on?", "Why is my laptop turning on by itself?", M, "negation", "support"),
    ("Do you ship to Canada?", "Do you ship from Canada?", M, "direction", "shopping"),
    ("Can I return an item after 30 days?", "Can I return an item within 30 days?", M, "direction", "shopping"),
    ("Is shipping free for orders over $50?", "Is shipping free for orders under $50?", M, "direction", "shopping"),
    ("How do I sort a list in ascending order?", "How do I sort a list in descending order?", M, "antonym", "coding"),
    ("How do I add a column in pandas?", "How do I remove a column in pandas?", M, "antonym", "coding"),
    ("How do I merge two branches in git?", "How do I delete two branches in git?", M, "content_word", "coding"),
    ("What is the first element of the array?", "What is the last element of the array?", M, "ordinal", "coding"),
    ("How do I convert a list to a string in Python?", "How do I convert a string to a list in Python?", M, "swapped_args", "coding"),
    ("What is the boiling point of water?", "What is the freezing point of water?", M, "content_word", "facts"),
    ("How tall is Mount Everest?", "How old is Mount Everest?", M, "content_word", "facts"),
    ("When did World War II end?", "When did World War II start?", M, "antonym", "facts"),
    ("When did World War I end?", "When did World War II end?", M, "number", "facts"),
    ("Who was the first man on the Moon?", "Who was the second man on the Moon?", M, "ordinal", "facts"),
    ("What is the largest planet in the solar system?", "What is the smallest planet in the solar system?", M, "antonym", "facts"),
    ("What is the square root of 144?", "What is the square of 144?", M, "content_word", "math"),
    ("What is 15% of 80?", "What is 15% of 90?", M, "number", "math"),
    ("What is the derivative of sin x?", "What is the integral of sin x?", M, "content_word", "math"),
    ("How many seconds are in an hour?", "How many seconds are in a day?", M, "unit", "math"),
    ("What are the symptoms of the flu?", "What are the symptoms of a cold?", M, "entity", "health"),
    ("Can I take ibuprofen while pregnant?", "Should I take ibuprofen while pregnant?", M, "modality", "health"),
    ("How much water should I drink every day?", "How much water should a child drink every day?", M, "content_word", "health"),
    ("What raises blood pressure?", "What lowers blood pressure?", M, "antonym", "health"),
    ("Should I take the pill before meals?", "Should I take the pill after meals?", M, "direction", "health"),
    ("Can you explain that again?", "Can you explain that differently?", M, "content_word", "chat"),
    ("Can you make it shorter?", "Can you make it longer?", M, "antonym", "chat"),
    ("Translate that into French.", "Translate that into German.", M, "entity", "chat"),
    ("Tell me more about the second option.", "Tell me more about the third option.", M, "ordinal", "chat"),
    ("What about on weekends?", "What about on weekdays?", M, "content_word", "chat"),
    ("How long should I boil an egg?", "How long should I fry an egg?", M, "content_word", "howto"),
    ("How do I tie a tie?", "How do I untie a tie?", M, "antonym", "howto"),
    ("How do I make cold brew coffee?", "How do I make hot brew coffee?", M, "antonym", "howto"),
    ("How do I turn on dark mode?", "How do I turn off dark mode?", M, "antonym", "support"),
    ("How do I enable notifications?", "How do I disable notifications?", M, "antonym", "support"),
    ("Does the plan include customer support?", "Does the plan exclude customer support?", M, "antonym", "support"),
    ("Is my data encrypted at rest?", "Is my data encrypted in transit?", M, "content_word", "support"),
    ("Can all users see my profile?", "Can only admins see my profile?", M, "scope", "support"),
    ("Delete all the rows in the table.", "Delete only the selected rows in the table.", M, "scope", "coding"),
    ("Do all birds fly?", "Do any birds fly?", M, "quantifier", "facts"),
    ("Must I file taxes this year?", "May I file taxes this year?", M, "modality", "facts"),
    ("What happened in 1969?", "What happened in 1979?", M, "date", "facts"),
    ("What's the weather today?", "What's the weather tomorrow?", M, "date", "chat"),
    ("Who won the World Cup in 2018?", "Who won the World Cup in 2022?", M, "date", "facts"),
    ("What day of the week was July 4, 1990?", "What day of the week was July 4, 1991?", M, "date", "facts"),
    ("How do I get from Paris to London?", "How do I get from London to Paris?", M, "swapped_args", "howto"),
    ("Is Python faster than Java?", "Is Java faster than Python?", M, "swapped_args", "coding"),
    ("Does aspirin interact with warfarin?", "Does aspirin interact with ibuprofen?", M, "entity", "health"),
    ("Is the store open on Sunday?", "Is the store closed on Sunday?", M, "antonym", "shopping"),
    ("Is the store open on Sunday?", "Is the store open on Monday?", M, "date", "shopping"),
    ("What is the return window for electronics?", "What is the return window for clothing?", M, "content_word", "shopping"),
    ("Can I pay with PayPal?", "Can I pay with Bitcoin?", M, "entity", "shopping"),
    ("How do I upgrade my plan?", "How do I downgrade my plan?", M, "antonym", "support"),
    ("How do I import contacts?", "How do I export contacts?", M, "antonym", "support"),
    ("Is it better to rent or buy a house?", "Is it better to rent or sell a house?", M, "antonym", "shopping"),
    ("What is the minimum order amount?", "What is the maximum order amount?", M, "antonym", "shopping"),
    ("Why is my code slow?", "Why is my code fast?", M, "antonym", "coding"),
    ("How do I increase the font size?", "How do I decrease the font size?", M, "antonym", "howto"),
    ("Is it legal to drive with headphones?", "Is it illegal to drive with headphones?", M, "antonym", "facts"),
    ("Which foods are high in iron?", "Which foods are low in iron?", M, "antonym", "health"),
    ("Can dogs eat grapes?", "Can cats eat grapes?", M, "content_word", "health"),
    ("Can dogs eat grapes?", "Can dogs not eat grapes?", M, "negation", "health"),
    ("Why doesn't my printer connect to Wi-Fi?", "Why does my printer connect to Wi-Fi?", M, "negation", "support"),
    ("What should I not eat before surgery?", "What should I eat before surgery?", M, "negation", "health"),
    ("Which countries don't use the euro?", "Which countries use the euro?", M, "negation", "facts"),
    ("Who is the CEO of Apple?", "Who is the CFO of Apple?", M, "entity", "facts"),
    ("What is the population of India?", "What is the population of Indonesia?", M, "entity", "facts"),
    ("What is the fastest land animal?", "What is the slowest land animal?", M, "antonym", "facts"),
    ("Is the new version backward compatible?", "Is the new version forward compatible?", M, "direction", "coding"),
    ("How do I push changes to the remote?", "How do I pull changes from the remote?", M, "direction", "coding"),
    ("How do I upload a file to S3?", "How do I download a file from S3?", M, "direction", "coding"),
    ("How do I encrypt a file with GPG?", "How do I decrypt a file with GPG?", M, "antonym", "coding"),
    ("Can I use this drug during pregnancy?", "Must I use this drug during pregnancy?", M, "modality", "health"),
    ("Do I need a visa to visit Japan?", "Do I need a visa to visit China?", M, "entity", "howto"),
    ("What is the most common blood type?", "What is the least common blood type?", M, "antonym", "health"),
    ("Only the admin can delete posts, right?", "Anyone can delete posts, right?", M, "scope", "support"),
]

# Families: a hand-written template pair and hand-picked fillers for {x} (and {y}).
# (group, a_template, b_template, same, kind, domain, fillers)
FAMILIES: list[tuple[str, str, str, bool, str, str, list[tuple[str, ...]]]] = [
    ("capital_wh", "Which city is the capital of {x}?", "What is the capital of {x}?", P, "wh_word", "facts",
     [("Italy",), ("Japan",), ("Canada",), ("Kenya",), ("Peru",), ("Norway",), ("Egypt",), ("Chile",)]),
    ("capital_entity", "What is the capital of {x}?", "What is the capital of {y}?", M, "entity", "facts",
     [("Austria", "Australia"), ("Sweden", "Switzerland"), ("Iran", "Iraq"), ("Niger", "Nigeria"),
      ("Slovakia", "Slovenia"), ("Colombia", "Venezuela"), ("Portugal", "Spain"), ("Mali", "Malawi")]),
    ("author_voice", "Who wrote {x}?", "Who is the author of {x}?", P, "voice", "facts",
     [("War and Peace",), ("Moby Dick",), ("The Hobbit",), ("Hamlet",), ("Don Quixote",), ("Dracula",), ("Ulysses",), ("Frankenstein",)]),
    ("author_passive", "{x} was written by whom?", "Who wrote {x}?", P, "voice", "facts",
     [("Jane Eyre",), ("The Odyssey",), ("Macbeth",), ("Emma",), ("Beloved",), ("Lolita",)]),
    ("prime_form", "Is {x} a prime number?", "Is the number {x} prime?", P, "question_form", "math",
     [("53",), ("87",), ("101",), ("221",), ("389",), ("1001",), ("7919",), ("57",)]),
    ("prime_number", "Is {x} a prime number?", "Is {y} a prime number?", M, "number", "math",
     [("53", "51"), ("87", "89"), ("101", "103"), ("221", "223"), ("389", "391"), ("17", "27"), ("113", "131"), ("7919", "7917")]),
    ("diff_form", "How does {x} differ from {y}?", "What is the difference between {x} and {y}?", P, "question_form", "coding",
     [("HTTP", "HTTPS"), ("a process", "a thread"), ("Git", "GitHub"), ("RAM", "ROM"), ("SQL", "NoSQL"), ("a virus", "a bacterium"), ("weather", "climate"), ("an ETF", "a mutual fund")]),
    ("diff_entity", "What is the difference between {x} and {y}?", "What is the difference between {x} and {z}?", M, "entity", "coding",
     [("Python 2", "Python 3", "Perl"), ("React", "Angular", "Vue"), ("TCP", "UDP", "QUIC"), ("MySQL", "PostgreSQL", "SQLite"),
      ("AWS", "Azure", "GCP"), ("Docker", "Kubernetes", "Podman")]),
    ("convert_swap", "How do I convert {x} to {y}?", "How do I convert {y} to {x}?", M, "swapped_args", "math",
     [("Celsius", "Fahrenheit"), ("miles", "kilometers"), ("pounds", "kilograms"), ("inches", "centimeters"),
      ("JSON", "YAML"), ("PDF", "Word"), ("dollars", "euros"), ("binary", "decimal"), ("PNG", "JPEG"), ("hours", "minutes")]),
    ("convert_units_spelled", "How many {x} are in a {y}?", "How many {z} are in a {w}?", P, "units_spelled", "math",
     [("cm", "m", "centimeters", "meter"), ("ml", "l", "milliliters", "liter"), ("oz", "lb", "ounces", "pound"),
      ("mm", "inch", "millimeters", "inch"), ("g", "kg", "grams", "kilogram"), ("KB", "MB", "kilobytes", "megabyte")]),
    ("convert_unit_change", "How many {x} are in one {y}?", "How many {x} are in one {z}?", M, "unit", "math",
     [("grams", "pound", "ounce"), ("feet", "mile", "yard"), ("milliliters", "cup", "tablespoon"), ("seconds", "day", "week"),
      ("centimeters", "foot", "meter"), ("bytes", "kilobyte", "gigabyte"), ("days", "year", "month"), ("cups", "gallon", "quart")]),
    ("amount_unit", "Convert {n} {x} to miles.", "Convert {n} {y} to miles.", M, "unit", "math",
     [("5", "km", "m"), ("10", "kilometers", "meters"), ("3", "feet", "yards"), ("42", "km", "ft")]),
    ("amount_number", "Convert {n} {x} to {y}.", "Convert {m} {x} to {y}.", M, "number", "math",
     [("5", "km", "miles", "50"), ("100", "Fahrenheit", "Celsius", "10"), ("3", "cups", "ml", "4"), ("2.5", "kg", "pounds", "25"),
      ("12", "inches", "cm", "21"), ("1", "mile", "km", "11")]),
    ("safe_antonym", "Is it safe to {x}?", "Is it unsafe to {x}?", M, "antonym", "health",
     [("eat raw eggs",), ("take melatonin every night",), ("fly while pregnant",), ("microwave plastic containers",),
      ("drink tap water in Mexico",), ("mix bleach and vinegar",), ("run with a cold",), ("leave my laptop plugged in",)]),
    ("safe_para", "Is it safe to {x}?", "Is {y} safe?", P, "question_form", "health",
     [("eat raw eggs", "eating raw eggs"), ("take melatonin every night", "taking melatonin every night"),
      ("fly while pregnant", "flying while pregnant"), ("microwave plastic containers", "microwaving plastic containers"),
      ("drink tap water in Mexico", "drinking tap water in Mexico"), ("run with a cold", "running with a cold")]),
    ("good_bad", "Is {x} good for you?", "Is {x} bad for you?", M, "antonym", "health",
     [("coffee",), ("red meat",), ("intermittent fasting",), ("dark chocolate",), ("sparkling water",), ("cold showers",), ("soy milk",), ("peanut butter",)]),
    ("good_para", "Is {x} good for you?", "Is {x} healthy?", P, "synonym", "health",
     [("coffee",), ("red meat",), ("dark chocolate",), ("oatmeal",), ("green tea",), ("olive oil",)]),
    ("orders_dir", "Show me orders {x} ${n}.", "Show me orders {y} ${n}.", M, "direction", "shopping",
     [("over", "100", "under"), ("above", "250", "below"), ("over", "20", "under"), ("more than", "75", "less than"),
      ("over", "1,000", "under"), ("above", "60", "below")]),
    ("orders_para", "Show me orders over ${n}.", "List the orders above ${n}.", P, "synonym", "shopping",
     [("100",), ("250",), ("20",), ("75",), ("500",)]),
    ("before_after", "What should I eat {x} {y}?", "What should I eat {z} {y}?", M, "direction", "health",
     [("before", "a workout", "after"), ("before", "a run", "after"), ("after", "a colonoscopy", "before"),
      ("before", "bed", "after"), ("after", "surgery", "before")]),
    ("buy_sell", "When is the best time to {x} {y}?", "When is the best time to {z} {y}?", M, "direction", "shopping",
     [("buy", "a car", "sell"), ("buy", "stocks", "sell"), ("buy", "a house", "sell"), ("buy", "bitcoin", "sell"), ("buy", "a used phone", "sell")]),
    ("buy_para", "When is the best time to buy {y}?", "What's the best time of year to purchase {y}?", P, "synonym", "shopping",
     [("a car",), ("a TV",), ("a laptop",), ("a mattress",), ("flights",)]),
    ("flight_swap", "How long is the flight from {x} to {y}?", "How long is the flight from {y} to {x}?", M, "swapped_args", "howto",
     [("New York", "London"), ("Paris", "Rome"), ("Sydney", "Tokyo"), ("Boston", "Chicago"), ("Berlin", "Madrid"), ("Delhi", "Dubai")]),
    ("flight_para", "How long is the flight from {x} to {y}?", "How many hours is a flight from {x} to {y}?", P, "synonym", "howto",
     [("New York", "London"), ("Paris", "Rome"), ("Sydney", "Tokyo"), ("Boston", "Chicago"), ("Berlin", "Madrid")]),
    ("translate_swap", "Translate this sentence from {x} to {y}.", "Translate this sentence from {y} to {x}.", M, "swapped_args", "chat",
     [("English", "Spanish"), ("French", "German"), ("Japanese", "English"), ("Italian", "Portuguese")]),
    ("code_lang", "How do I {x} in {y}?", "How do I {x} in {z}?", M, "entity", "coding",
     [("reverse a string", "Python", "JavaScript"), ("read a CSV file", "R", "Python"), ("parse JSON", "Go", "Rust"),
      ("sort an array", "Java", "C"), ("handle exceptions", "C++", "C#"), ("make an HTTP request", "Ruby", "PHP"),
      ("create a thread", "Java", "Kotlin"), ("format a date", "JavaScript", "TypeScript")]),
    ("code_reorder", "How do I {x} in {y}?", "In {y}, how do I {x}?", P, "reorder", "coding",
     [("reverse a string", "Python"), ("read a CSV file", "R"), ("parse JSON", "Go"), ("sort an array", "Java"),
      ("handle exceptions", "C++"), ("make an HTTP request", "Ruby"), ("format a date", "JavaScript"), ("concatenate strings", "Bash")]),
    ("code_synonym", "How do I {x} in Python?", "How can I {y} in Python?", P, "synonym", "coding",
     [("remove duplicates from a list", "delete duplicates from a list"), ("check if a file exists", "test whether a file exists"),
      ("get the current time", "obtain the current time"), ("split a string", "break up a string"),
      ("combine two dictionaries", "merge two dictionaries"), ("find the length of a list", "get the size of a list")]),
    ("code_antonym", "How do I {x} in Python?", "How do I {y} in Python?", M, "antonym", "coding",
     [("encode a string", "decode a string"), ("serialize an object", "deserialize an object"), ("compress a file", "decompress a file"),
      ("lock a file", "unlock a file"), ("zip a folder", "unzip a folder"), ("start a thread", "stop a thread")]),
    ("first_ordinal", "Who was the {x} {y}?", "Who was the {z} {y}?", M, "ordinal", "facts",
     [("first", "president of the United States", "second"), ("first", "woman in space", "second"), ("third", "king of England", "fourth"),
      ("first", "person to climb Everest", "second"), ("first", "emperor of Rome", "last"), ("first", "Prime Minister of India", "second")]),
    ("first_para", "Who was the first {y}?", "Who was the 1st {y}?", P, "abbreviation", "facts",
     [("president of the United States",), ("woman in space",), ("person to climb Everest",), ("emperor of Rome",)]),
    ("year_date", "Who won the {x} in {y}?", "Who won the {x} in {z}?", M, "date", "facts",
     [("Super Bowl", "2019", "2020"), ("Tour de France", "2010", "2011"), ("Nobel Prize in Physics", "2015", "2016"), ("World Series", "2004", "2005"),
      ("Oscar for Best Picture", "2000", "2001")]),
    ("day_date", "What's the {x} {y}?", "What's the {x} {z}?", M, "date", "chat",
     [("weather forecast for", "today", "tomorrow"), ("plan for", "Monday", "Tuesday"), ("deadline for", "March", "April"),
      ("meeting agenda for", "this week", "next week"), ("schedule for", "Saturday", "Sunday")]),
    ("negation_why", "Why is my {x} {y}?", "Why is my {x} not {y}?", M, "negation", "support",
     [("phone", "charging"), ("printer", "printing"), ("Wi-Fi", "working"), ("camera", "focusing"), ("email", "syncing"),
      ("laptop fan", "spinning"), ("dishwasher", "draining"), ("car", "starting")]),
    ("negation_can", "Can I {x}?", "Can't I {x}?", M, "negation", "support",
     [("change my username",), ("delete my account",), ("use the app offline",), ("share my subscription",), ("transfer my license",)]),
    ("negation_para", "Why won't my {x} {y}?", "Why doesn't my {x} {y}?", P, "function_words", "support",
     [("phone", "charge"), ("printer", "print"), ("car", "start"), ("laptop", "boot"), ("email", "sync"), ("TV", "turn on")]),
    ("modality", "{x} I {y}?", "{z} I {y}?", M, "modality", "health",
     [("Can", "take antibiotics with milk", "Should"), ("Should", "see a doctor for a fever", "Can"), ("Must", "fast before a blood test", "Can"),
      ("Can", "exercise with a sprained ankle", "Should"), ("Should", "get a flu shot every year", "Can"), ("May", "drink alcohol after a vaccine", "Must")]),
    ("modality_para", "Can I {y}?", "Is it okay to {y}?", P, "question_form", "health",
     [("take antibiotics with milk",), ("exercise with a sprained ankle",), ("drink coffee while pregnant",), ("eat before a blood test",), ("shower after a tattoo",)]),
    ("scope_only", "Can I delete only {x}?", "Can I delete all {x}?", M, "scope", "support",
     [("my messages",), ("the archived emails",), ("the selected photos",), ("old backups",), ("the draft posts",)]),
    ("quantifier", "Do {x} {y}?", "Do {z} {y}?", M, "quantifier", "facts",
     [("all mammals", "lay eggs", "some mammals"), ("all snakes", "have venom", "most snakes"), ("any birds", "hibernate", "all birds"),
      ("all planets", "have moons", "most planets"), ("some fish", "breathe air", "all fish")]),
    ("howto_synonym", "How do I {x}?", "How can I {y}?", P, "synonym", "howto",
     [("get rid of fruit flies", "eliminate fruit flies"), ("clean a cast iron pan", "wash a cast-iron skillet"), ("fix a leaky faucet", "repair a dripping tap"),
      ("remove a wine stain", "get a wine stain out"), ("start a vegetable garden", "begin a vegetable garden"), ("lower my electricity bill", "reduce my electric bill"),
      ("speed up my computer", "make my computer faster"), ("stop my dog from barking", "keep my dog from barking")]),
    ("howto_object", "How do I clean {x}?", "How do I clean {y}?", M, "content_word", "howto",
     [("a cast iron pan", "a nonstick pan"), ("leather shoes", "suede shoes"), ("a washing machine", "a dishwasher"),
      ("hardwood floors", "tile floors"), ("a fish tank", "a swimming pool"), ("silver jewelry", "gold jewelry")]),
    ("support_synonym", "How do I {x} my account?", "How can I {y} my account?", P, "synonym", "support",
     [("delete", "remove"), ("close", "shut down"), ("verify", "confirm"), ("recover", "restore access to"), ("secure", "protect")]),
    ("support_object", "How do I {x} my {y}?", "How do I {x} my {z}?", M, "content_word", "support",
     [("change", "billing address", "shipping address"), ("update", "phone number", "email address"), ("reset", "PIN", "password"),
      ("cancel", "order", "subscription"), ("verify", "email", "phone")]),
    ("support_antonym", "How do I {x} {y}?", "How do I {z} {y}?", M, "antonym", "support",
     [("subscribe to", "the newsletter", "unsubscribe from"), ("log in to", "my account", "log out of"), ("block", "a contact", "unblock"),
      ("mute", "a group chat", "unmute"), ("hide", "my profile", "show"), ("pin", "a message", "unpin")]),
    ("chat_followup", "{x}", "{y}", P, "question_form", "chat",
     [("Can you say that more simply?", "Could you put that more simply?"), ("What does that mean?", "What does this mean?"),
      ("Give me another example.", "Can I have another example?"), ("Make it more formal.", "Could you make it more formal?"),
      ("Why?", "Why is that?"), ("Can you list them?", "Could you list them for me?"), ("Explain it like I'm five.", "Explain it to me like I'm 5."),
      ("Shorter, please.", "Please make it shorter.")]),
    ("chat_followup_diff", "{x}", "{y}", M, "content_word", "chat",
     [("Make it more formal.", "Make it less formal."), ("Give me another example.", "Give me a counterexample."),
      ("Can you list them?", "Can you rank them?"), ("Shorter, please.", "Longer, please."), ("Translate it to Spanish.", "Translate it from Spanish."),
      ("Add more detail.", "Remove some detail."), ("Use bullet points.", "Don't use bullet points."), ("Summarize the first part.", "Summarize the last part.")]),
    ("health_dose", "What is the maximum dose of {x} per day?", "What is the max daily dose of {x}?", P, "abbreviation", "health",
     [("ibuprofen",), ("acetaminophen",), ("vitamin D",), ("melatonin",), ("caffeine",)]),
    ("health_dose_diff", "What is the maximum dose of {x} for {y}?", "What is the maximum dose of {x} for {z}?", M, "content_word", "health",
     [("ibuprofen", "adults", "children"), ("acetaminophen", "adults", "infants"), ("melatonin", "kids", "adults"), ("aspirin", "dogs", "cats")]),
    ("price_cmp", "Is the {x} cheaper than the {y}?", "Is the {x} more expensive than the {y}?", M, "antonym", "shopping",
     [("iPhone 15", "Pixel 8"), ("basic plan", "pro plan"), ("blue model", "red model"), ("large size", "medium size")]),
    ("price_para", "How much does the {x} cost?", "What is the price of the {x}?", P, "question_form", "shopping",
     [("iPhone 15",), ("pro plan",), ("annual subscription",), ("extended warranty",), ("gift wrapping",), ("express shipping",)]),
    ("math_swap", "What is {x} divided by {y}?", "What is {y} divided by {x}?", M, "swapped_args", "math",
     [("12", "4"), ("100", "8"), ("7", "2"), ("81", "9")]),
    ("math_para", "What is {x} divided by {y}?", "What's {x} / {y}?", P, "abbreviation", "math",
     [("12", "4"), ("100", "8"), ("7", "2"), ("81", "9"), ("144", "12")]),
    ("math_op", "What is {x} {op} {y}?", "What is {x} {op2} {y}?", M, "content_word", "math",
     [("12", "plus", "4", "minus"), ("7", "times", "6", "plus"), ("20", "minus", "5", "divided by"), ("9", "squared plus", "1", "squared minus")]),
    ("invented_voice", "Who invented {x}?", "By whom was {x} invented?", P, "voice", "facts",
     [("the light bulb",), ("the printing press",), ("the airplane",), ("the World Wide Web",), ("dynamite",), ("the radio",), ("the steam engine",)]),
    ("year_wh", "In which year did {x}?", "What year did {x}?", P, "wh_word", "facts",
     [("the Berlin Wall fall",), ("the Titanic sink",), ("man land on the Moon",), ("the French Revolution begin",), ("Apple release the first iPhone",), ("India gain independence",)]),
    ("symptoms_syn", "What are the symptoms of {x}?", "What are the signs of {x}?", P, "synonym", "health",
     [("diabetes",), ("dehydration",), ("a concussion",), ("Lyme disease",), ("anemia",), ("burnout",), ("strep throat",)]),
    ("recipe_form", "How do I make {x}?", "What's the recipe for {x}?", P, "question_form", "howto",
     [("banana bread",), ("pancakes",), ("guacamole",), ("sourdough starter",), ("French onion soup",), ("hummus",)]),
    ("meaning_form", "What does {x} mean?", "What is the meaning of {x}?", P, "question_form", "facts",
     [("carpe diem",), ("HTTP 404",), ("APR",), ("the word serendipity",), ("ROI",), ("a 401k",), ("FOMO",)]),
    ("return_form", "Can I return {x}?", "Is it possible to return {x}?", P, "question_form", "shopping",
     [("a used item",), ("an opened package",), ("a sale item",), ("a gift without a receipt",), ("custom-made furniture",)]),
    ("fix_error", "How do I fix the error {x}?", "How can I resolve the error {x}?", P, "synonym", "coding",
     [("'ModuleNotFoundError: No module named requests'",), ("'permission denied (publickey)'",), ("'CORS policy blocked'",),
      ("'segmentation fault'",), ("'port 8080 already in use'",), ("'npm ERR! code ERESOLVE'",)]),
    ("where_located", "Where is {x} located?", "Where is {x}?", P, "function_words", "facts",
     [("the Great Barrier Reef",), ("Machu Picchu",), ("the Louvre",), ("Mount Kilimanjaro",), ("the Sahara Desert",), ("Angkor Wat",)]),
    ("how_many_wh", "How many {x} are there in {y}?", "What is the number of {x} in {y}?", P, "wh_word", "facts",
     [("bones", "the human body"), ("countries", "Africa"), ("players", "a soccer team"), ("keys", "a piano"), ("states", "the US"), ("teeth", "an adult mouth")]),
    ("speed_abbr", "What is a normal {x}?", "What is a normal {y}?", P, "abbreviation", "health",
     [("resting heart rate", "resting HR"), ("blood pressure", "BP"), ("body mass index", "BMI"), ("blood sugar level", "blood glucose level")]),
    ("shipping_para", "How long does {x} take?", "How many days does {x} take?", P, "synonym", "shopping",
     [("standard shipping",), ("express delivery",), ("a refund",), ("an exchange",), ("international shipping",)]),
    ("support_contact", "How do I contact {x}?", "How can I get in touch with {x}?", P, "synonym", "support",
     [("customer service",), ("technical support",), ("the billing team",), ("a human agent",), ("your sales team",)]),
    ("coding_whatis", "What is {x} in {y}?", "In {y}, what is {x}?", P, "reorder", "coding",
     [("a decorator", "Python"), ("a promise", "JavaScript"), ("a goroutine", "Go"), ("a trait", "Rust"), ("an interface", "Java"), ("a lambda", "C++")]),
    ("chat_followup2", "{x}", "{y}", P, "function_words", "chat",
     [("What else?", "What else is there?"), ("Are you sure?", "Are you sure about that?"), ("Continue.", "Please continue."),
      ("Say it in French.", "Say that in French."), ("How so?", "How is that so?"), ("Which one is better?", "Which is better?")]),
    ("travel_visa", "Do I need a visa for {x}?", "Is a visa required for {x}?", P, "voice", "howto",
     [("Japan",), ("Brazil",), ("Turkey",), ("Vietnam",), ("the UK",)]),
    ("minimal_extra", "{x}", "{y}", M, "content_word", "support",
     [("How do I share a folder?", "How do I share a file?"), ("Can I change my plan mid-month?", "Can I change my plan mid-year?"),
      ("Where is my refund?", "Where is my order?"), ("Why was my card declined?", "Why was my card charged twice?"),
      ("How do I add a user?", "How do I remove a user?"), ("How do I print in color?", "How do I print double-sided?")]),
    ("temp_unit", "Bake at {n} degrees {x} for how long?", "Bake at {n} degrees {y} for how long?", M, "unit", "howto",
     [("180", "Celsius", "Fahrenheit"), ("350", "Fahrenheit", "Celsius"), ("200", "Celsius", "Fahrenheit"), ("425", "Fahrenheit", "Celsius")]),
    ("stock_entity", "What is the stock price of {x}?", "What is the stock price of {y}?", M, "entity", "facts",
     [("Apple", "Amazon"), ("Tesla", "Toyota"), ("Nvidia", "Intel"), ("Microsoft", "Meta")]),
    ("stock_para", "What is the stock price of {x}?", "How much is {x} stock trading at?", P, "question_form", "facts",
     [("Apple",), ("Tesla",), ("Nvidia",), ("Microsoft",)]),
]


def _fill(template: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return template.format(**dict(zip(names, values, strict=True)))


def _family_rows() -> list[dict[str, object]]:
    rows = []
    for group, ta, tb, same, kind, domain, fillers in FAMILIES:
        for values in fillers:
            names = _names(ta + tb, len(values))
            rows.append(
                _row(_fill(ta, names, values), _fill(tb, names, values), same, kind, domain, group)
            )
    return rows


def _names(template: str, n: int) -> tuple[str, ...]:
    """The slots of a template pair, in order of first appearance (the fillers' order)."""
    import re

    order: list[str] = []
    for name in re.findall(r"{(\w+)}", template):
        if name not in order:
            order.append(name)
    if len(order) != n:
        raise SystemExit(f"template {template!r} has slots {order}, fillers give {n} values")
    return tuple(order)


def _row(a: str, b: str, same: bool, kind: str, domain: str, group: str) -> dict[str, object]:
    return {"a": a, "b": b, "same": same, "kind": kind, "domain": domain, "group": group}


def split_of(group: str) -> str:
    """``tune`` or ``test``: a fixed hash of the group (a family or a hand pair)."""
    return "test" if int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) % 2 else "tune"


def build() -> list[dict[str, object]]:
    rows = [_row(a, b, s, k, d, f"hand-{i:03d}") for i, (a, b, s, k, d) in enumerate(HAND)]
    rows += _family_rows()
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        pair = (str(row["a"]), str(row["b"]))
        if pair in seen or pair[0] == pair[1]:
            raise SystemExit(f"duplicate or identical pair: {pair}")
        seen.add(pair)
        out.append({**row, "split": split_of(str(row["group"]))})
    return out


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    for split in ("tune", "test"):
        part = [r for r in rows if r["split"] == split]
        pos = sum(bool(r["same"]) for r in part)
        print(f"{split}: {len(part)} pairs, {pos} paraphrases, {len(part) - pos} minimal pairs")
    print(f"wrote {len(rows)} pairs to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The compression and conversation-window columns of the audit."""

import json

from tokenomy.audit import load_workload
from tokenomy.audit.compression import CompressionAuditPlugin
from tokenomy.audit.context_window import WindowAuditPlugin
from tokenomy.audit.core import _price_call
from tokenomy.audit.plugins import AuditContext
from tokenomy.compress import ExtractiveCompressor
from tokenomy.context import ConversationWindow
from tokenomy.embed import HashingEmbedder
from tokenomy.tokens import PriceTable, TokenCounter

FACTS = " ".join(f"Depot {i} in town {i} holds {i * 7} crates of pears." for i in range(150))


def context_of(tmp_path, lines):
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    prices = PriceTable.default()
    counter = TokenCounter("gpt-4o")
    calls = [_price_call(c, counter, prices) for c in load_workload(path).calls]
    return AuditContext(calls, prices)


def rag(i, question):
    content = f"{FACTS}\n\n{question}"
    return {
        "id": f"r{i}",
        "model": "gpt-4o",
        "response": "ok",
        "messages": [
            {"role": "system", "content": "Answer from the documents."},
            {"role": "user", "content": content},
        ],
    }


def chat(i, turns):
    msgs = [{"role": "system", "content": "Be helpful."}]
    for k in range(turns):
        msgs += [
            {"role": "user", "content": f"Tell me about topic {k}. " * 20},
            {"role": "assistant", "content": f"Topic {k} is interesting because. " * 40},
        ]
    msgs.append({"role": "user", "content": "Summarize topic 3."})
    return {"id": f"c{i}", "model": "gpt-4o", "response": "ok", "messages": msgs}


def test_compression_column_measures_a_sample_and_prices_the_savings(tmp_path):
    context = context_of(
        tmp_path, [rag(i, f"How many crates does depot {i} hold?") for i in range(6)] + [chat(9, 1)]
    )
    plugin = CompressionAuditPlugin(
        ratio=0.4, sample=3, compressor=ExtractiveCompressor(embedder=HashingEmbedder())
    )
    estimate = plugin.estimate(context)
    assert estimate.calls_affected == 6
    long_tokens = 6 * TokenCounter().count(f"{FACTS}\n\nHow many crates does depot 1 hold?")
    kept = estimate.metrics["kept_share"]
    assert 0.3 < kept <= 0.4  # never over the ratio
    assert abs(estimate.input_tokens_saved - long_tokens * (1 - kept)) <= 6  # applied to all 6
    assert estimate.cost_saved_usd > 0
    assert "Measured on 3 of them" in estimate.findings[1]


def test_compression_column_with_nothing_long(tmp_path):
    estimate = CompressionAuditPlugin().estimate(context_of(tmp_path, [chat(1, 1)]))
    assert estimate.calls_affected == 0 and "No prompt" in estimate.findings[0]


def test_window_column_saves_only_on_long_chats(tmp_path):
    context = context_of(tmp_path, [chat(1, 2), chat(2, 30), rag(3, "How many?")])
    window = ConversationWindow(max_tokens=1500, summarizer=None, embedder=HashingEmbedder())
    estimate = WindowAuditPlugin(window=window).estimate(context)
    assert estimate.calls_affected == 1
    full = TokenCounter().count_messages(chat(2, 30)["messages"])
    assert full - 1500 <= estimate.input_tokens_saved < full
    assert estimate.cost_saved_usd > 0


def test_window_column_says_when_nothing_exceeds_the_window(tmp_path):
    plugin = WindowAuditPlugin(
        window=ConversationWindow(max_tokens=100_000, embedder=HashingEmbedder())
    )
    estimate = plugin.estimate(context_of(tmp_path, [chat(1, 2)]))
    assert estimate.calls_affected == 0 and "No chat prompt exceeds" in estimate.findings[0]


POOL_QUESTIONS = [
    ("What if the Beatles had never formed?", "counterfactual"),
    ("Solve 3x + 5 = 20 for x.", "math"),
    ("Write a haiku about the sea.", "writing"),
    ("What if Rome had never fallen?", "counterfactual"),
    ("Compute the derivative of x^2 + 3x.", "math"),
    ("Draft a short poem about autumn.", "writing"),
]


def few_shot_call(i, question):
    examples = "\n\n".join(f"Question: {q}\nCategory: {c}" for q, c in POOL_QUESTIONS)
    content = (
        f"Examples:\n\n{examples}\n\nNow classify this question.\n\nQuestion: {question}\nCategory:"
    )
    return {
        "id": f"f{i}",
        "model": "gpt-4o-mini",
        "response": "math",
        "messages": [
            {"role": "system", "content": "Classify."},
            {"role": "user", "content": content},
        ],
    }


def test_find_examples_reads_the_block_and_the_input():
    from tokenomy.audit.few_shot import find_examples

    block = find_examples(few_shot_call(0, "Solve 2x = 8.")["messages"][1]["content"])
    assert block.keys == ("Question", "Category") and len(block.examples) == 6
    assert block.query == "Solve 2x = 8."
    assert find_examples("Question: one?\nCategory: a\n\nplain text") is None


def test_few_shot_column_selects_within_what_each_prompt_spends(tmp_path):
    from tokenomy.audit.few_shot import FewShotAuditPlugin

    lines = [few_shot_call(i, q) for i, q in enumerate(["Solve 2x = 8.", "What if Napoleon won?"])]
    context = context_of(tmp_path, [*lines, chat(9, 1)])
    estimate = FewShotAuditPlugin(embedder=HashingEmbedder()).estimate(context)
    block_tokens = sum(
        TokenCounter().count(f"Question: {q}\nCategory: {c}") + 1 for q, c in POOL_QUESTIONS
    )
    assert estimate.calls_affected == 2
    assert 0 < estimate.input_tokens_saved < 2 * block_tokens
    assert "2 prompts carry few-shot examples (6.0 per prompt, 6 distinct" in estimate.findings[0]
    nothing = FewShotAuditPlugin(embedder=HashingEmbedder()).estimate(
        context_of(tmp_path, [chat(1, 1)])
    )
    assert nothing.calls_affected == 0


def _routing_call(i, model, question, **tags):
    return {
        "id": f"q{i}",
        "model": model,
        "response": "ok " * 50,
        "messages": [{"role": "user", "content": question}],
        "tags": tags,
    }


def _two_tier_router():
    """A router between two close tiers (gpt-4o-mini, gpt-4o), hashing embeddings."""
    from tokenomy.route import ModelSpec, ModelTable, Router

    table = ModelTable(
        [
            ModelSpec("gpt-4o-mini", 0.15, 0.6, quality=0.78),
            ModelSpec("gpt-4o", 2.5, 10, quality=0.80),
        ]
    )
    return Router(table, quality_target=None, embedder=HashingEmbedder())


def _judged_pairs():
    """Four questions, each answered by both models with an outcome (gpt-4o-mini's
    first answer failed)."""
    lines = []
    for i in range(4):
        q = f"What is the capital of country number {i}?"
        lines.append(_routing_call(2 * i, "gpt-4o", q, judge_score="10"))
        lines.append(_routing_call(2 * i + 1, "gpt-4o-mini", q, outcome="0" if i == 0 else "1"))
    return lines


def test_routing_column_routes_down_never_up_with_a_predicted_quality_drop(tmp_path):
    from tokenomy.audit.routing import RoutingAuditPlugin

    lines = [
        _routing_call(0, "gpt-4o", "What is the capital of France?"),
        _routing_call(1, "gpt-4o", "Name three primary colours."),
        _routing_call(2, "gpt-4.1-nano", "What is the capital of Spain?"),
    ]
    router = _two_tier_router()
    estimate = RoutingAuditPlugin(router=router).estimate(context_of(tmp_path, lines))
    assert estimate.calls_affected == 2  # the nano call is already cheaper: never routed up
    assert estimate.cost_saved_usd > 0 and estimate.input_tokens_saved == 0
    assert "2 calls gpt-4o -> gpt-4o-mini" in estimate.findings
    m = estimate.metrics
    assert 0 < m["predicted_quality_drop_share"] < 0.2  # two close tiers
    assert m["quality_drop_low"] <= m["predicted_quality_drop_share"] <= m["quality_drop_high"]
    assert "predicted share of answers that get worse" in estimate.findings[0]
    assert "scored on its own" in estimate.findings[0]  # not a side-by-side preference
    assert "measured_quality_drop_share" not in m


def test_routing_column_reports_measured_drops_from_the_workloads_outcomes(tmp_path):
    from tokenomy.audit.routing import RoutingAuditPlugin, call_outcome

    lines = _judged_pairs()  # both models answered each prompt, judged
    router = _two_tier_router()
    context = context_of(tmp_path, lines)
    assert [call_outcome(c) for c in context.calls[:2]] == [1.0, 0.0]
    estimate = RoutingAuditPlugin(router=router, tolerance=0.5).estimate(context)
    m = estimate.metrics
    assert router.outcomes_seen == 8 and m["outcomes_seen"] == 8
    assert m["measured_pairs"] == 4 and m["measured_quality_drop_share"] == 0.25
    assert any("Measured on 4 moved calls" in f for f in estimate.findings)


def test_routing_on_a_sample_learns_every_calls_outcome(tmp_path):
    from tokenomy.audit.routing import RoutingAuditPlugin

    lines = _judged_pairs()
    router = _two_tier_router()
    whole = context_of(tmp_path, lines)
    # a sample of the first question's two calls, as the audit gives a sampled column
    sample = AuditContext(whole.calls[:2], whole.prices, population=whole.calls)
    estimate = RoutingAuditPlugin(router=router, tolerance=0.5).estimate(sample)
    m = estimate.metrics
    assert router.outcomes_seen == 8 and m["outcomes_seen"] == 8  # not the sample's 2
    assert estimate.calls_affected == 1  # only the sample's gpt-4o call is priced
    assert m["measured_pairs"] == 1 and m["measured_quality_drop_share"] == 1.0

"""The compression and conversation-window columns of the audit."""

import json

from tokenomy.audit import load_workload
from tokenomy.audit.core import _price_call
from tokenomy.audit.plugins import AuditContext
from tokenomy.compress import ExtractiveCompressor
from tokenomy.compress.audit import CompressionAuditPlugin
from tokenomy.context import ConversationWindow
from tokenomy.context.audit import WindowAuditPlugin
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

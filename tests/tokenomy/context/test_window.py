import copy
import threading

import pytest

from tokenomy.context import ConversationWindow, ExtractiveSummarizer, PromptSummarizer
from tokenomy.context.window import SUMMARY_PREFIX
from tokenomy.embed import HashingEmbedder
from tokenomy.errors import BudgetExceededError, ConfigError, UnknownNameError
from tokenomy.tokens import TokenCounter

FILLER = [
    "The weather has been rainy all week and the garden is muddy.",
    "I watched a documentary about deep sea fish last night.",
    "My neighbour is renovating the kitchen and it is loud.",
    "Traffic on the ring road was terrible this morning.",
    "We are planning a picnic if the sun ever comes out.",
    "The football match went to penalties and we lost.",
]


def chat(*pairs, system="You are a helpful assistant.", current="What is my cat called?"):
    msgs = [{"role": "system", "content": system}] if system else []
    for user, assistant in pairs:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return [*msgs, {"role": "user", "content": current}]


def window(**kw):
    kw.setdefault("embedder", HashingEmbedder())
    kw.setdefault("summarizer", None)
    return ConversationWindow(**kw)


def history():
    return chat(
        ("Hi, I need help planning my week.", "Sure, happy to help."),
        ("My cat is called Whiskers and she is nine.", "Whiskers is a lovely name."),
        *[(f, "I see.") for f in FILLER],
    )


def test_under_budget_is_returned_unchanged():
    msgs = history()
    result = window(max_tokens=10_000).fit(msgs)
    assert list(result.messages) == msgs
    assert result.evicted == () and result.summary is None
    assert result.sent_tokens == result.original_tokens == TokenCounter().count_messages(msgs)


def test_budget_is_met_and_core_pinned():
    msgs = history()
    snapshot = copy.deepcopy(msgs)
    result = window(max_tokens=120, overlap_tokens=0).fit(msgs)
    assert result.sent_tokens <= 120 < result.original_tokens
    assert result.sent_tokens == TokenCounter().count_messages(list(result.messages))
    sent = [m["content"] for m in result.messages]
    assert sent[0] == "You are a helpful assistant."  # system
    assert "Hi, I need help planning my week." in sent  # the stated goal
    assert sent[-1] == "What is my cat called?"  # the current turn
    assert msgs == snapshot  # the caller's history is untouched
    assert set(result.kept) | set(result.evicted) == set(range(len(msgs)))


def test_relevant_old_turn_beats_recent_filler():
    result = window(max_tokens=110, overlap_tokens=0).fit(history())
    sent = " ".join(m["content"] for m in result.messages)
    assert "Whiskers" in sent
    assert FILLER[0] not in sent


def test_overlap_keeps_newest_turns_verbatim():
    result = window(max_tokens=150, overlap_tokens=40, relevance_weight=0.0).fit(history())
    sent = [m["content"] for m in result.messages]
    assert FILLER[-1] in sent  # newest turn carried over
    assert FILLER[0] not in sent


@pytest.mark.parametrize("decay", ["exponential", "linear", "none"])
def test_decays_all_fit(decay):
    result = window(max_tokens=120, overlap_tokens=0, decay=decay).fit(history())
    assert result.sent_tokens <= 120


def test_without_relevance_recency_wins():
    result = window(max_tokens=120, overlap_tokens=0, relevance_weight=0.0).fit(history())
    sent = [m["content"] for m in result.messages]
    assert FILLER[-1] in sent and "Whiskers" not in " ".join(sent)


def test_tool_call_stays_with_its_result():
    msgs = [
        *history()[:-1],
        {"role": "user", "content": "Look up the forecast."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "forecast", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Rain, 8 degrees."},
        {"role": "assistant", "content": "Rain and 8 degrees in Oslo."},
        {"role": "user", "content": "What is my cat called?"},
    ]
    for budget in range(60, 260, 7):
        result = window(max_tokens=budget, overlap_tokens=0).fit(msgs)
        kept = set(result.kept)
        call, tool = len(msgs) - 4, len(msgs) - 3
        assert (call in kept) == (tool in kept), budget


def test_pinned_tool_result_pins_its_call():
    msgs = [
        {"role": "user", "content": "goal"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "function": {}}]},
        {"role": "tool", "tool_call_id": "a", "content": "result " * 50},
        {"role": "assistant", "content": "ok " * 50},
        {"role": "user", "content": "next"},
    ]
    result = window(max_tokens=60, overlap_tokens=0, pin_goal=False).fit(msgs, pinned=[2])
    assert {1, 2} <= set(result.kept)


def test_parallel_calls_sent_one_per_message_stay_with_their_results():
    msgs = [
        {"role": "user", "content": "goal"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "function": {}}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "b", "function": {}}]},
        {"role": "tool", "tool_call_id": "a", "content": "result " * 50},
        {"role": "tool", "tool_call_id": "b", "content": "result " * 50},
        {"role": "assistant", "content": "ok " * 50},
        {"role": "user", "content": "next"},
    ]
    result = window(max_tokens=60, overlap_tokens=0, pin_goal=False).fit(msgs, pinned=[4])
    assert {1, 2, 3, 4} <= set(result.kept)


def test_summary_of_evicted_turns_fits_and_sits_after_system():
    w = ConversationWindow(
        max_tokens=150, overlap_tokens=0, summary_tokens=30, embedder=HashingEmbedder()
    )
    result = w.fit(history())
    assert result.summary and result.evicted
    assert result.summary_position == 1
    message = result.messages[1]
    assert message["role"] == "system" and message["content"].startswith(SUMMARY_PREFIX)
    assert TokenCounter().count(result.summary) <= 30
    assert result.sent_tokens <= 150


def test_incremental_summarizer_is_called_only_for_new_evictions():
    calls = []

    def complete(prompt):
        calls.append(prompt)
        return f"summary {len(calls)}"

    w = window(max_tokens=110, overlap_tokens=0, summarizer=PromptSummarizer(complete))
    msgs = history()
    first = w.fit(msgs, session="s")
    again = w.fit(msgs, session="s")
    assert len(calls) == 1 and first.summary == again.summary == "summary 1"
    longer = [*msgs[:-1], {"role": "assistant", "content": "Noted."}]
    longer += [{"role": "user", "content": "Anything else about my week? " * 3}]
    w.fit(longer, session="s")
    assert len(calls) == 2
    assert "Summary so far:\nsummary 1" in calls[1]  # rolling: previous summary passed on


def test_failing_summarizer_falls_back_to_the_local_one(caplog):
    def complete(prompt):
        raise TimeoutError("model down")

    w = window(max_tokens=150, overlap_tokens=0, summarizer=PromptSummarizer(complete))
    result = w.fit(history(), session="s")
    assert result.summary  # extractive fallback
    assert "summarizer failed" in caplog.text


def test_session_budget_shrinks_then_raises():
    w = window(max_tokens=400, overlap_tokens=0, session_budget=600)
    first = w.fit(history(), session="a")
    assert first.budget_tokens == 400
    second = w.fit(history(), session="a")
    assert second.budget_tokens == 600 - first.sent_tokens
    assert second.sent_tokens <= second.budget_tokens
    with pytest.raises(BudgetExceededError, match="raise session_budget"):
        for _ in range(10):
            w.fit(history(), session="a")
    assert w.fit(history(), session="b").budget_tokens == 400  # sessions are separate
    w.reset("a")
    assert w.spent("a") == 0


def test_core_over_budget_is_sent_and_flagged(caplog):
    msgs = chat(("a", "b"), system="rules " * 200)
    result = window(max_tokens=50).fit(msgs)
    assert result.over_budget
    assert [m["role"] for m in result.messages] == ["system", "user", "user"]
    assert "pinned messages need" in caplog.text


def test_non_text_content_passes_through():
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    msgs = [*history(), {"role": "assistant", "content": "A cat."}, image]
    result = window(max_tokens=150).fit(msgs)
    assert result.messages[-1] is image


def test_bad_input_says_what_to_do():
    w = window()
    with pytest.raises(ConfigError, match="list of message dicts"):
        w.fit("hello")
    with pytest.raises(ConfigError, match="message 1 is not a dict"):
        w.fit([{"role": "user", "content": "a"}, "b"])
    with pytest.raises(ConfigError, match="out of range"):
        w.fit(history(), pinned=[99])
    with pytest.raises(UnknownNameError, match="exponential"):
        ConversationWindow(decay="cubic")
    with pytest.raises(ConfigError, match="max_tokens"):
        ConversationWindow(max_tokens=0)
    with pytest.raises(ConfigError, match="summarize"):
        ConversationWindow(summarizer=object())


def test_empty_history():
    result = window().fit([])
    assert result.messages == () and result.sent_tokens == result.original_tokens


def test_threads_share_a_window():
    w = window(max_tokens=120, overlap_tokens=0, session_budget=10**9)
    errors = []

    def run(k):
        try:
            for _ in range(20):
                assert w.fit(history(), session=f"s{k % 3}").sent_tokens <= 120
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(w.spent(f"s{k}") for k in range(3)) > 0


async def test_afit_matches_fit():
    w = window(max_tokens=120, overlap_tokens=0)
    assert (await w.afit(history())).kept == w.fit(history()).kept


def test_summarizers_respect_max_tokens():
    counter = TokenCounter()
    long = PromptSummarizer(lambda p: "word " * 500)
    assert counter.count(long.summarize(["User: hi"], max_tokens=20)) <= 20
    ext = ExtractiveSummarizer(embedder=HashingEmbedder())
    texts = [f"User: {f}" for f in FILLER]
    assert counter.count(ext.summarize(texts, max_tokens=25, focus="the picnic")) <= 25
    assert ext.summarize([], max_tokens=25) == ""
    with pytest.raises(ConfigError, match="must contain"):
        PromptSummarizer(lambda p: "", prompt="no fields")
    with pytest.raises(ConfigError, match="must return a str"):
        PromptSummarizer(lambda p: None).summarize(["User: x"], max_tokens=5)


def test_reserve_tokens_come_off_the_budget_and_the_session():
    w = window(max_tokens=200, overlap_tokens=0, session_budget=10_000)
    plain = w.fit(history())
    reserved = w.fit(history(), reserve_tokens=80, session="r")
    assert reserved.budget_tokens == 120 < plain.budget_tokens
    assert reserved.sent_tokens <= 120
    assert w.spent("r") == reserved.sent_tokens + 80
    with pytest.raises(ConfigError, match="reserve_tokens"):
        w.fit(history(), reserve_tokens=-1)

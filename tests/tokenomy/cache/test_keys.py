from hypothesis import given
from hypothesis import strategies as st

from tokenomy.cache import make_key, normalize_messages
from tokenomy.cache.keys import MAX_SEMANTIC_QUERY_CHARS


def conversation(answer_meta):
    return [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris.", **answer_meta},
        {"role": "user", "content": "And of Spain?"},
    ]


def test_metadata_and_ids_do_not_change_the_key():
    plain = make_key(conversation({}))
    marked = make_key(
        conversation(
            {
                "id": "run-123",
                "usage_metadata": {"total_cost": 0},
                "response_metadata": {"tokenomy_cache_hit": "exact_cache"},
            }
        )
    )
    assert plain == marked


def test_query_is_the_last_user_turn_and_context_the_rest():
    key = make_key(conversation({}))
    assert key.query == "And of Spain?"
    other_history = conversation({})
    other_history[2] = {"role": "assistant", "content": "Lyon."}
    assert make_key(other_history).context != key.context
    assert make_key(other_history).query == key.query


def test_partition_separates_models_scopes_and_versions():
    base = make_key("hi", llm="gpt-4o", scope="alice", version="v1")
    assert (
        make_key("hi", llm="gpt-4o-mini", scope="alice", version="v1").partition != base.partition
    )
    assert make_key("hi", llm="gpt-4o", scope="bob", version="v1").partition != base.partition
    assert make_key("hi", llm="gpt-4o", scope="alice", version="v2").partition != base.partition
    assert make_key("hi", llm="gpt-4o", scope="alice", version="v1") == base


def test_tools_are_part_of_the_context_and_exact_key():
    msgs = [{"role": "user", "content": "weather in Paris?"}]
    tool = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    assert make_key(msgs, tools=tool).exact != make_key(msgs).exact
    assert make_key(msgs, tools=tool).context != make_key(msgs).context


def test_non_user_last_turns_and_long_or_multimodal_queries_are_exact_only():
    tool_last = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "1", "content": "42"},
    ]
    assert make_key(tool_last).query is None
    assert make_key("x" * (MAX_SEMANTIC_QUERY_CHARS + 1)).query is None
    image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is it"},
                {"type": "image_url", "image_url": {"url": "u"}},
            ],
        }
    ]
    assert make_key(image).query is None
    assert make_key("   ").query is None


def test_role_aliases_and_tool_call_argument_forms_normalize_alike():
    a = normalize_messages(
        [
            {"role": "human", "content": "hi"},
            {"role": "ai", "content": "", "tool_calls": [{"name": "f", "args": {"x": 1}}]},
        ]
    )
    b = normalize_messages(
        [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"function": {"name": "f", "arguments": '{"x": 1}'}}],
            },
        ]
    )
    assert a == b


@given(st.text(max_size=300), st.text(max_size=20))
def test_any_text_prompt_gets_a_key(text, scope):
    key = make_key(text, scope=scope)
    assert len(key.exact) == 32 and len(key.partition) == 32


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["role", "content", "name", "tool_calls", "id"]),
            st.one_of(st.text(max_size=30), st.none(), st.lists(st.text(max_size=5), max_size=3)),
        ),
        max_size=5,
    )
)
def test_odd_message_lists_never_crash(messages):
    make_key(messages)

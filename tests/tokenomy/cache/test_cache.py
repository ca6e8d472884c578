import threading
import time

import pytest
from fakes import BrokenTier

from tokenomy.cache import Answer, DiskTier, MemoryTier, SingleFlight
from tokenomy.errors import ConfigError
from tokenomy.tokens import TokenUsage

Q = "What is the capital of France?"


def ans(text="Paris.", **kw):
    return Answer(payload=text, text=text, **kw)


def test_exact_then_semantic_then_miss(make_cache):
    cache = make_cache()
    cache.store(Q, ans(model="gpt-4o", usage=TokenUsage(20, 5)))
    exact = cache.lookup(Q)
    assert (exact.kind, exact.similarity, exact.payload) == ("exact", 1.0, "Paris.")
    assert exact.usage == TokenUsage(20, 5) and exact.cost_saved_usd == pytest.approx(
        20 * 2.5e-6 + 5 * 1e-5
    )
    near = cache.lookup("what is the capital of france")
    assert near.kind == "semantic" and near.matched_query == Q
    assert cache.lookup("How tall is Mount Everest?") is None
    stats = cache.stats()
    assert (stats.lookups, stats.exact_hits, stats.semantic_hits, stats.misses) == (3, 1, 1, 1)
    assert stats.input_tokens_saved == 40
    cache.check()


def test_a_hit_saves_what_its_request_would_have_been_billed(make_cache):
    cache = make_cache()
    cache.store(Q, ans(model="gpt-4o", usage=TokenUsage(20, 5)))
    listed = 20 * 2.5e-6 + 5 * 1e-5
    assert cache.lookup(Q, price_factor=0.5).cost_saved_usd == pytest.approx(0.5 * listed)
    assert cache.peek(Q, price_factor=0.5).cost_saved_usd == pytest.approx(0.5 * listed)
    assert cache.lookup(Q).cost_saved_usd == pytest.approx(listed)
    assert cache.stats().cost_saved_usd == pytest.approx(2 * listed)  # 0.5 + 0.5 + 1


def test_exact_mode_never_embeds(make_cache):
    class NoEmbed:
        name, dim = "none", 8

        def embed(self, texts):
            raise AssertionError("embedded in exact mode")

    cache = make_cache(mode="exact", embedder=NoEmbed())
    cache.store(Q, ans())
    assert cache.lookup(Q).kind == "exact"
    assert cache.lookup(Q.lower()) is None


def test_ten_scopes_never_see_each_others_entries(make_cache):
    cache = make_cache()
    scopes = [f"user-{i}" for i in range(10)]
    for s in scopes:
        assert cache.lookup(Q, scope=s) is None
        cache.store(Q, ans(f"answer for {s}"), scope=s)
    for s in scopes:
        for q in (Q, Q.lower(), Q + " "):
            hit = cache.lookup(q, scope=s)
            assert hit is not None and hit.payload == f"answer for {s}"
    assert cache.lookup(Q) is None  # the unscoped partition is another scope too


def test_sharing_across_scopes_is_explicit(make_cache):
    cache = make_cache(share_across_scopes=True)
    cache.store(Q, ans(), scope="alice")
    assert cache.lookup(Q, scope="bob").payload == "Paris."


def test_other_models_and_conversations_miss(make_cache):
    cache = make_cache()
    history = [
        {"role": "user", "content": "Tell me about France."},
        {"role": "assistant", "content": "France is in Europe."},
        {"role": "user", "content": Q},
    ]
    cache.store(history, ans(), llm="gpt-4o")
    assert cache.lookup(history, llm="gpt-4o-mini") is None
    assert cache.lookup([{"role": "user", "content": Q}], llm="gpt-4o") is None
    other = [*history[:1], {"role": "assistant", "content": "It is a country."}, history[2]]
    assert cache.lookup(other, llm="gpt-4o") is None
    paraphrase = [*history[:2], {"role": "user", "content": Q.lower()}]
    assert cache.lookup(paraphrase, llm="gpt-4o").kind == "semantic"


def test_ttl_and_version_invalidation(make_cache, clock):
    cache = make_cache(ttl_seconds=60)
    cache.store(Q, ans())
    clock.t += 59
    assert cache.lookup(Q) is not None
    clock.t += 2
    assert cache.lookup(Q) is None
    cache.store(Q, ans(), ttl_seconds=3600)
    newer = make_cache(tiers=cache.tiers, version="prompt-v2")
    assert newer.lookup(Q) is None
    assert cache.lookup(Q) is not None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (ans(error=True), "error"),
        (ans(""), "empty"),
        (ans("   "), "empty"),
        (ans(finish_reason="length"), "cut by length"),
        (ans(cacheable=False), "uncacheable"),
    ],
)
def test_answers_that_must_not_be_cached(make_cache, answer, reason):
    cache = make_cache()
    result = cache.store(Q, answer)
    assert (result.stored, result.reason) == (False, reason)
    assert cache.lookup(Q) is None
    assert cache.stats().refused == {reason: 1}


def test_store_takes_an_answer(make_cache):
    with pytest.raises(ConfigError, match="Answer"):
        make_cache().store(Q, "Paris")  # type: ignore[arg-type]


def test_similarity_is_a_cosine_in_unit_range():
    from tokenomy.cache import SemanticCache

    with pytest.raises(ConfigError, match="cosine similarity in \\[0, 1\\]"):
        SemanticCache(similarity=0.2 - 1, verifier=None)
    with pytest.raises(ConfigError, match="mode"):
        SemanticCache(mode="fuzzy", verifier=None)  # type: ignore[arg-type]


def test_byte_bound_evicts_least_recently_used(make_cache):
    tier = MemoryTier(max_bytes=30_000)  # room for ~6 entries with 1024-d vectors
    cache = make_cache(tiers=[tier])
    for i in range(20):
        cache.store(f"question number {i}", ans("x" * 200))
        cache.lookup("question number 0")  # keep 0 recently used
    assert tier.nbytes <= 30_000 and tier.evictions > 0
    assert cache.lookup("question number 0") is not None
    assert cache.lookup("question number 1") is None
    cache.check()


def test_lower_tier_hits_are_promoted(make_cache, tmp_path):
    memory, disk = MemoryTier(), DiskTier(tmp_path / "l2")
    cache = make_cache(tiers=[memory, disk])
    cache.store(Q, ans())
    memory.clear()
    hit = cache.lookup(Q)
    assert hit.tier == "disk" and len(memory) == 1
    assert cache.lookup(Q).tier == "memory"
    assert cache.lookup(Q.lower()).tier == "memory"
    assert cache.stats().promotions == 1
    cache.check()


def test_disk_tier_survives_restarts_and_sees_other_writers(make_cache, tmp_path):
    a = make_cache(tiers=[DiskTier(tmp_path / "l2")])
    b = make_cache(tiers=[DiskTier(tmp_path / "l2")])
    a.store(Q, ans())
    assert b.lookup(Q.lower()).kind == "semantic"  # written by another instance after b opened
    b.store("How far is the moon?", ans("384,400 km"))
    restarted = make_cache(tiers=[DiskTier(tmp_path / "l2")])
    assert restarted.lookup("how far is the moon").payload == "384,400 km"
    restarted.check()


def test_a_failing_tier_is_skipped_and_used_again(make_cache, clock, caplog):
    broken = BrokenTier()
    cache = make_cache(tiers=[MemoryTier(), broken])
    assert cache.store(Q, ans()).stored  # memory took it; the broken tier did not fail the call
    assert cache.lookup("unrelated question") is None
    stats = cache.stats()
    assert stats.tier_errors["broken"] >= 1 and "skipping it" in caplog.text
    calls = broken.calls
    cache.lookup("another question")
    assert broken.calls == calls  # still inside the back-off window: not even tried
    assert cache.stats().tier_skips["broken"] >= 1
    broken.healthy = True
    clock.t += 60
    cache.store("new question", ans("new"))
    assert "new question" in {e.query for e in broken.entries.values()}


def test_only_a_broken_tier_refuses_but_does_not_raise(make_cache):
    cache = make_cache(tiers=[BrokenTier()])
    assert cache.store(Q, ans()).reason == "no tier available"
    assert cache.lookup(Q) is None


def test_embedder_failure_degrades_to_exact(make_cache):
    class Flaky:
        name, dim = "flaky", 8

        def embed(self, texts):
            raise RuntimeError("model crashed")

    cache = make_cache(embedder=Flaky())
    cache.store(Q, ans())
    assert cache.lookup(Q).kind == "exact"
    assert cache.lookup(Q.lower()) is None
    assert cache.stats().tier_errors["embedder"] >= 1


def test_single_flight_runs_once_for_concurrent_callers():
    flight = SingleFlight()
    calls = []
    gate = threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return "answer"

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(flight.do("k", slow))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(shared for _, shared in results) == [False] + [True] * 7
    assert flight.shared == 7


def test_single_flight_followers_retry_when_the_leader_fails():
    flight = SingleFlight()
    gate = threading.Event()
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            gate.wait(5)
            raise TimeoutError("provider timeout")
        return "ok"

    errors, results = [], []

    def run():
        try:
            results.append(flight.do("k", flaky))
        except TimeoutError as exc:
            errors.append(exc)

    leader = threading.Thread(target=run)
    leader.start()
    time.sleep(0.1)
    follower = threading.Thread(target=run)
    follower.start()
    time.sleep(0.1)
    gate.set()
    leader.join()
    follower.join()
    assert len(errors) == 1 and results == [("ok", False)]


async def test_async_single_flight_and_async_api(make_cache):
    import asyncio

    flight = SingleFlight()
    calls = []

    async def work():
        calls.append(1)
        await asyncio.sleep(0.05)
        return 7

    out = await asyncio.gather(*(flight.ado("k", work) for _ in range(5)))
    assert len(calls) == 1 and [r for r, _ in out] == [7] * 5
    cache = make_cache()
    await cache.astore(Q, ans())
    assert (await cache.alookup(Q)).payload == "Paris."
    # a key computed once (as the pipeline does) is the one the async calls use
    other = cache.key("Name the capital of Spain.")
    await cache.astore("ignored: the key decides", ans(), key=other, ttl_seconds=60)
    hit = await cache.alookup("also ignored", key=other)
    assert hit is not None and hit.kind == "exact"


def test_settings_build_the_tiers_they_describe(tmp_path, monkeypatch):
    from tokenomy import Settings

    monkeypatch.setenv("TOKENOMY_CACHE__MODE", "exact")
    monkeypatch.setenv("TOKENOMY_CACHE__DISK_PATH", str(tmp_path / "l2"))
    monkeypatch.setenv("TOKENOMY_CACHE__TTL_SECONDS", "30")
    cache = Settings.from_env().answer_cache()
    assert cache.mode == "exact" and cache.ttl_seconds == 30
    assert [t.name for t in cache.tiers] == ["memory", "disk"]
    monkeypatch.setenv("TOKENOMY_CACHE__SIMILARITY", "1.5")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings.from_env()


def test_same_words_shortcut_keeps_symbols_apart():
    from tokenomy.cache.cache import _canonical

    assert _canonical("What is C++?") != _canonical("What is C?")
    assert _canonical("What is C#") != _canonical("what is c")
    assert _canonical("Is 5~ the same as 5%?") != _canonical("Is 5% the same as 5~?")
    assert _canonical("...the following program ?") == _canonical("The following program?")
    assert _canonical("“Best” cab service, in Pune!") == _canonical("best cab service in pune")


@pytest.mark.parametrize("scope", ["", "   "])
def test_an_empty_scope_is_rejected_not_shared(make_cache, scope):
    cache = make_cache()
    with pytest.raises(ConfigError, match="scope must be a non-empty string") as info:
        cache.lookup("What is the capital of France?", scope=scope)
    assert "None for no scope" in str(info.value)
    with pytest.raises(ConfigError):
        cache.store("What is the capital of France?", Answer(payload="P", text="P"), scope=scope)
    assert cache.lookup("What is the capital of France?", scope=None) is None  # None is fine


def test_a_tier_that_refuses_entries_is_counted_but_stays_up(make_cache):
    from tokenomy.cache import MemoryTier

    class Refusing(MemoryTier):
        name = "picky"

        def get(self, entry_id, now):
            self.report_bad_entry(entry_id, "undecodable")
            return None

    tier = Refusing()
    cache = make_cache(tiers=[tier], mode="exact")
    for _ in range(3):
        assert cache.lookup("question one") is None
        assert cache.store("question two", Answer(payload="2", text="2")).stored
    stats = cache.stats()
    assert stats.tier_errors == {"picky: undecodable": 3} and stats.tier_skips == {}

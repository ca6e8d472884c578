"""The Redis tier against a real Redis Stack server (started by the session fixture)."""

import pytest

pytest.importorskip("redis")

from tokenomy.cache import Answer, DiskTier, MemoryTier, RedisTier

pytestmark = pytest.mark.redis

Q = "What is the capital of France?"
TOPICS = [
    "volcanoes",
    "tides",
    "glaciers",
    "comets",
    "deserts",
    "coral",
    "auroras",
    "geysers",
    "monsoons",
    "fjords",
    "dunes",
    "lagoons",
    "canyons",
    "atolls",
    "tundra",
]


def ans(text="Paris."):
    return Answer(payload=text, text=text, model="gpt-4o")


def test_exact_and_semantic_hits_in_redis(make_cache, redis_url):
    cache = make_cache(tiers=[RedisTier(redis_url)])
    cache.store(Q, ans())
    assert cache.lookup(Q).tier == "redis"
    hit = cache.lookup("what is the capital of france")
    assert hit.kind == "semantic" and hit.similarity > 0.85
    assert cache.lookup("How tall is Everest?") is None


def test_tag_prefilters_keep_scopes_models_and_conversations_apart(make_cache, redis_url):
    cache = make_cache(tiers=[RedisTier(redis_url)])
    for i in range(10):
        cache.store(Q, ans(f"answer {i}"), scope=f"user-{i}", llm="gpt-4o")
    for i in range(10):
        assert cache.lookup(Q.lower(), scope=f"user-{i}", llm="gpt-4o").payload == f"answer {i}"
    assert cache.lookup(Q.lower(), scope="user-0", llm="gpt-4o-mini") is None
    assert cache.lookup(Q.lower(), scope="stranger", llm="gpt-4o") is None


def test_ttl_becomes_a_redis_expiry(make_cache, redis_url, clock):
    import redis

    cache = make_cache(tiers=[RedisTier(redis_url)], ttl_seconds=120)
    cache.store(Q, ans())
    client = redis.Redis.from_url(redis_url)
    (key,) = client.keys("tokenomy:cache:e:*")
    assert 0 < client.ttl(key) <= 121
    clock.t += 121
    assert cache.lookup(Q) is None  # expired by our clock before Redis removes it


def test_redis_killed_mid_run_never_fails_a_call_and_is_used_again(
    make_cache, redis_stack, redis_url, tmp_path, clock, caplog
):
    memory, disk, remote = MemoryTier(), DiskTier(tmp_path / "l2"), RedisTier(redis_url)
    cache = make_cache(tiers=[memory, disk, remote])
    answers = []
    for i in range(30):
        if i == 10:
            redis_stack.kill()  # SIGKILL mid-run
        if i == 20:
            redis_stack.start()  # comes back empty (no persistence)
            clock.t += 600  # past the back-off window
        question = f"tell me about {TOPICS[i // 2]}"  # each asked twice: a miss, then a hit
        hit = cache.lookup(question)
        if hit is None:
            cache.store(question, ans(f"answer {i // 2}"))
            answers.append(f"answer {i // 2}")
        else:
            answers.append(hit.payload)
    assert answers == [f"answer {i // 2}" for i in range(30)]
    stats = cache.stats()
    assert stats.tier_errors.get("redis", 0) >= 1
    assert "tier 'redis' failed" in caplog.text
    cache.store("after the restart", ans("back"))
    memory.clear()
    disk.clear()
    assert cache.lookup("after the restart").tier == "redis"  # used again
    assert cache.lookup("AFTER the restart").kind == "semantic"  # index rebuilt

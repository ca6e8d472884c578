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


# -- entries are data, never code --------------------------------------------------


class Exploit:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _poison(client, key, how, marker):
    import json
    import pickle

    fields = {k.decode(): v for k, v in client.hgetall(key).items()}
    if how == "pickle in the entry field":
        client.hset(key, "entry", pickle.dumps(Exploit(marker)))
    elif how == "older layout with a malformed meta":
        client.hdel(key, "entry")
        client.hset(key, mapping={"payload": "x", "meta": "{not json"})
    elif how == "forged answer":
        doc = json.loads(fields["entry"])
        doc["payload"] = "a forged answer"
        client.hset(key, "entry", json.dumps(doc))
    elif how == "tags moved to another partition":
        client.hset(key, "partition", "0" * 32)
    elif how == "not a hash":
        client.delete(key)
        client.set(key, pickle.dumps(Exploit(marker)))
    elif how == "msgpack-like bytes":
        client.hset(key, "entry", b"\x82\xa1v\x01\xa2id\xc0")


POISONS = [
    "pickle in the entry field",
    "older layout with a malformed meta",
    "forged answer",
    "tags moved to another partition",
    "not a hash",
    "msgpack-like bytes",
]


@pytest.mark.parametrize("how", POISONS)
def test_a_poisoned_redis_entry_never_runs_and_is_a_counted_miss(
    make_cache, redis_url, tmp_path, how
):
    import redis

    marker = tmp_path / "pwned"
    key = "s" * 32
    cache = make_cache(tiers=[RedisTier(redis_url, signing_key=key)])
    cache.store(Q, ans())
    cache.store("How tall is Mount Everest?", ans("8849 m"))
    client = redis.Redis.from_url(redis_url)
    assert cache.lookup(Q) is not None
    (poisoned,) = [
        k for k in client.keys("tokenomy:cache:e:*") if b"France" in client.hget(k, "entry")
    ]
    _poison(client, poisoned, how, marker)
    fresh = make_cache(tiers=[RedisTier(redis_url, signing_key=key)])
    assert fresh.lookup(Q) is None and fresh.lookup(Q.lower()) is None
    assert not marker.exists()
    errors = fresh.stats().tier_errors
    assert "redis" not in errors and sum(errors.values()) >= 1, errors
    assert all(k.startswith("redis: ") for k in errors)
    assert fresh.lookup("How tall is Mount Everest?").payload == "8849 m"
    assert not client.exists(poisoned)  # deleted
    assert fresh.stats().tier_skips == {}


def test_a_replanted_poison_is_served_to_no_one_and_redis_stays_up(make_cache, redis_url):
    import json

    import redis

    key = "s" * 32
    cache = make_cache(tiers=[RedisTier(redis_url, signing_key=key)])
    others = [f"tell me about {t}" for t in TOPICS[:5]]
    for i, q in enumerate(others):
        cache.store(q, ans(f"answer {i}"))
    cache.store(Q, ans())
    client = redis.Redis.from_url(redis_url)
    (poisoned,) = [
        k for k in client.keys("tokenomy:cache:e:*") if b"France" in client.hget(k, "entry")
    ]
    good = json.loads(client.hget(poisoned, "entry"))
    hits = 0
    for round_ in range(40):  # the attacker rewrites the entry before every request
        forged = dict(good, payload="a forged answer")
        client.hset(poisoned, mapping={"entry": json.dumps(forged), "partition": good["partition"]})
        client.hset(poisoned, "context", good["context"])
        assert cache.lookup(Q) is None
        hit = cache.lookup(others[round_ % 5].upper())
        hits += hit is not None and hit.payload == f"answer {round_ % 5}" and hit.tier == "redis"
    assert hits == 40
    stats = cache.stats()
    assert stats.tier_errors == {"redis: bad signature": 40}
    assert stats.tier_skips == {} and "redis" not in stats.tier_errors
    assert cache.store("a new question", ans("stored")).stored  # stores are not refused

"""The disk tier shared by several processes."""

import multiprocessing as mp
import random

import pytest

from tokenomy.cache import Answer, DiskTier, SemanticCache
from tokenomy.embed import HashingEmbedder

QUESTIONS = [f"what do we know about subject {chr(97 + i % 26)}{i // 26} today" for i in range(200)]


def answer_for(q: str) -> str:
    return f"answer to <{q}>"


def _worker(directory: str, seed: int, ops: int, out) -> None:
    # exact mode: this test is about concurrent writers, not about similarity
    cache = SemanticCache(tiers=[DiskTier(directory)], mode="exact")
    rng = random.Random(seed)
    wrong = hits = 0
    for _ in range(ops):
        q = rng.choice(QUESTIONS)
        if rng.random() < 0.5:
            cache.store(q, Answer(payload=answer_for(q), text="x"))
        else:
            hit = cache.lookup(q)
            if hit is not None:
                hits += 1
                wrong += hit.payload != answer_for(q)
    out.put((seed, hits, wrong))


@pytest.mark.slow
def test_four_processes_share_one_directory_without_corruption(tmp_path):
    directory = str(tmp_path / "l2")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(directory, seed, 5000, out)) for seed in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert all(wrong == 0 for _, _, wrong in results), results
    assert sum(hits for _, hits, _ in results) > 4000
    tier = DiskTier(directory)
    tier.check()
    assert 0 < len(tier) <= len(QUESTIONS)
    cache = SemanticCache(tiers=[tier], mode="exact")
    for q in QUESTIONS:
        hit = cache.lookup(q)
        assert hit is None or hit.payload == answer_for(q)


def test_clear_by_one_process_is_seen_by_another(tmp_path):
    a = SemanticCache(
        tiers=[DiskTier(tmp_path / "l2")], embedder=HashingEmbedder(), verifier=None, guards=False
    )
    b = SemanticCache(
        tiers=[DiskTier(tmp_path / "l2")], embedder=HashingEmbedder(), verifier=None, guards=False
    )
    a.store(QUESTIONS[0], Answer(payload="x", text="x"))
    assert b.lookup(QUESTIONS[0]) is not None
    a.clear()
    assert b.lookup(QUESTIONS[0]) is None
    a.store(QUESTIONS[1], Answer(payload="y", text="y"))
    assert b.lookup(QUESTIONS[1] + " ").payload == "y"  # b rebuilt its index after the clear

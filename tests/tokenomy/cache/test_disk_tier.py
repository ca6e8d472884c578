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


# -- entries are data, never code --------------------------------------------------


class Exploit:
    """Unpickling this creates ``marker``: proof that a payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _rows(directory):
    import sqlite3

    con = sqlite3.connect(str(directory / "entries" / "cache.db"))
    con.isolation_level = None
    return con


def _planted(tmp_path, marker, make_row):
    """Store two questions, overwrite the first one's row, and return a fresh cache."""
    directory = tmp_path / "l2"
    writer = SemanticCache(tiers=[DiskTier(directory)], embedder=HashingEmbedder(), verifier=None)
    writer.store("What is the capital of France?", Answer(payload="Paris", text="Paris"))
    writer.store("How tall is Mount Everest?", Answer(payload="8849 m", text="8849 m"))
    con = _rows(directory)
    ((rowid,),) = con.execute(
        "SELECT rowid FROM Cache WHERE key LIKE 'e:%' ORDER BY rowid LIMIT 1"
    ).fetchall()
    con.execute(
        "UPDATE Cache SET mode = ?, filename = ?, value = ? WHERE rowid = ?",
        (*make_row(directory), rowid),
    )
    con.close()
    # a new process's view: nothing is kept in memory between the two caches
    return SemanticCache(
        tiers=[DiskTier(directory)], embedder=HashingEmbedder(), verifier=None, similarity=0.8
    ), directory


def _pickled(marker):
    import pickle

    return pickle.dumps(Exploit(marker))


# (diskcache mode, filename, value) rows an attacker could write; 4 = MODE_PICKLE
PLANTS = {
    "pickle row": lambda m, d: (4, None, _pickled(m)),
    "pickle bytes in a raw row": lambda m, d: (1, None, _pickled(m)),
    "pickle in a value file": lambda m, d: (4, _write(d, "x.val", _pickled(m)), None),
    "binary value file": lambda m, d: (2, _write(d, "y.val", b"{}"), None),
    "text value file": lambda m, d: (3, _write(d, "z.val", b"{}"), None),
    "json of the wrong shape": lambda m, d: (1, None, b'{"v": 1, "id": 5}'),
    "json of another schema": lambda m, d: (1, None, b'{"v": 99}'),
    "an integer": lambda m, d: (1, None, 7),
    "deep json": lambda m, d: (1, None, b"[" * 200_000),
}


def _write(directory, name, data):
    (directory / "entries" / name).write_bytes(data)
    return name


@pytest.mark.parametrize("plant", list(PLANTS))
def test_a_planted_row_never_runs_and_is_a_counted_miss(tmp_path, plant):
    marker = tmp_path / "pwned"
    cache, _ = _planted(tmp_path, marker, lambda d: PLANTS[plant](marker, d))
    assert cache.lookup("What is the capital of France?") is None  # exact path
    assert cache.lookup("what is the capital of france") is None  # semantic path
    assert not marker.exists()
    stats = cache.stats()
    assert sum(n for k, n in stats.tier_errors.items() if k.startswith("disk: ")) == 1
    assert "disk" not in stats.tier_errors  # the tier was never marked down
    assert cache.lookup("How tall is Mount Everest?").payload == "8849 m"  # others still hit
    assert len(cache.tiers[0]) == 1  # the bad row was deleted
    cache.check()


def test_a_pickled_key_is_refused_too(tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    cache, directory = _planted(tmp_path, marker, lambda d: (1, None, b"{}"))
    con = _rows(directory)
    con.execute(
        "UPDATE Cache SET key = ?, raw = 0 "
        "WHERE rowid = (SELECT max(rowid) FROM Cache WHERE key LIKE 'e:%')",
        (pickle.dumps(Exploit(marker)),),
    )
    con.close()
    assert cache.lookup("How tall is Mount Everest?") is None
    with pytest.raises(AssertionError):
        cache.check()  # iterating keys meets the pickled one: refused, not loaded
    assert not marker.exists()


def test_signed_disk_entries_refuse_forgeries_and_log_once(tmp_path, caplog):
    import json

    key = "k" * 32
    directory = tmp_path / "l2"
    cache = SemanticCache(
        tiers=[DiskTier(directory, signing_key=key)], embedder=HashingEmbedder(), verifier=None
    )
    questions = [f"Where is city number {i}?" for i in range(3)]
    for q in questions:
        cache.store(q, Answer(payload="here", text="here"))
    con = _rows(directory)
    for rowid, value in con.execute("SELECT rowid, value FROM Cache WHERE key LIKE 'e:%'"):
        doc = json.loads(value)
        doc["payload"] = "a forged answer"
        con.execute("UPDATE Cache SET value = ? WHERE rowid = ?", (json.dumps(doc).encode(), rowid))
    con.close()
    fresh = SemanticCache(
        tiers=[DiskTier(directory, signing_key=key)], embedder=HashingEmbedder(), verifier=None
    )
    assert all(fresh.lookup(q) is None for q in questions)  # served to no one
    assert fresh.stats().tier_errors == {"disk: bad signature": 3}
    assert caplog.text.count("bad signature") == 1  # logged once (the rest at debug level)
    unsigned = SemanticCache(tiers=[DiskTier(directory)], embedder=HashingEmbedder(), verifier=None)
    unsigned.store(questions[0], Answer(payload="unsigned", text="x"))
    assert fresh.lookup(questions[0]) is None
    assert fresh.stats().tier_errors["disk: unsigned"] == 1


# -- degrade, don't break ----------------------------------------------------------


class _FullDisk:
    """A sqlite3 connection on a full disk: every statement that writes fails."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE")

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        import sqlite3

        if sql.lstrip().upper().startswith(self.WRITES):
            raise sqlite3.OperationalError("database or disk is full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_a_full_disk_keeps_serving_what_is_stored(tmp_path, caplog):
    disk = DiskTier(tmp_path / "l2", signing_key="k" * 16)
    cache = SemanticCache(tiers=[disk], embedder=HashingEmbedder(), verifier=None, similarity=0.8)
    cache.store("What is the capital of France?", Answer(payload="Paris", text="Paris"))
    for store in (disk._entries, disk._index):
        store._local.con = _FullDisk(store._con)  # this thread's connection, now on a full disk
    assert cache.store("How tall is Everest?", Answer(payload="8849", text="8849")).stored is False
    for _ in range(3):
        assert cache.lookup("What is the capital of France?").payload == "Paris"
        assert cache.lookup("what is the capital of france").kind == "semantic"
    stats = cache.stats()
    assert stats.tier_errors == {"disk: OperationalError": 1}  # the failed store only
    assert stats.tier_skips == {}  # never marked down: reads went on
    assert "database or disk is full" in caplog.text


def _mount_tmpfs(path, size):
    import subprocess

    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def _umount(path):
    import subprocess

    subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_really_full_small_tmpfs_keeps_serving(tmp_path):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "1m")
    try:
        cache = SemanticCache(
            tiers=[DiskTier(mnt / "l2")], embedder=HashingEmbedder(), verifier=None, mode="exact"
        )
        cache.store("first question", Answer(payload="first answer", text="x"))
        big = "x" * 100_000
        stored = [cache.store(f"q{i}", Answer(payload=big, text="x")).stored for i in range(30)]
        assert not all(stored)  # the disk filled up
        assert cache.lookup("first question").payload == "first answer"
        assert any(k.startswith("disk: ") for k in cache.stats().tier_errors)
        assert cache.stats().tier_skips == {}
        cache.tiers[0].close()
    finally:
        _umount(mnt)


def test_a_read_only_or_unusable_folder_is_a_clear_error_or_falls_back(tmp_path, caplog):
    from tokenomy.cache import MemoryTier
    from tokenomy.errors import CacheStorageError

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(CacheStorageError) as info:
        DiskTier(not_a_folder / "l2")
    assert str(not_a_folder) in str(info.value) and "cache.disk_path" in str(info.value)
    tier = DiskTier.open(not_a_folder / "l2", fail_soft=True)
    assert isinstance(tier, MemoryTier)
    assert caplog.text.count("Using a memory tier instead") == 1


def test_a_read_only_mount_is_a_clear_error(tmp_path):
    import subprocess

    from tokenomy.errors import CacheStorageError

    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "4m")
    try:
        DiskTier(mnt / "l2").close()  # a cache that existed before the folder went read-only
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        for path in (mnt / "l2", mnt / "new"):
            with pytest.raises(CacheStorageError, match=r"cache\.disk_path") as info:
                DiskTier(path)
            assert str(path) in str(info.value)
    finally:
        _umount(mnt)


def test_settings_fall_back_to_memory_only_when_configured(tmp_path):
    from tokenomy.cache import MemoryTier
    from tokenomy.errors import CacheStorageError
    from tokenomy.settings import Settings

    bad = tmp_path / "file"
    bad.write_text("x")
    with pytest.raises(CacheStorageError):
        Settings(cache={"disk_path": bad / "l2"}).answer_cache()
    cache = Settings(cache={"disk_path": bad / "l2", "disk_fail_soft": True}).answer_cache()
    assert [type(t) for t in cache.tiers] == [MemoryTier]  # the L1 tier is the fallback
    key = "k" * 16
    signed = Settings(cache={"disk_path": tmp_path / "l2", "signing_key": key}).answer_cache()
    assert signed.tiers[1]._key == key.encode()

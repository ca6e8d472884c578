"""Uniform adapters over the peer LLM-answer caches that tokenomy's cache is compared with.

Every adapter has the same small surface, so one benchmark loop can drive all of them:

    name: str
    store(question: str, answer: str) -> None
    lookup(question: str) -> str | None
    clear() -> None
    close() -> None          # drop Redis indexes / temp files this adapter created

They are built from an ``embed_fn(texts: list[str]) -> list[list[float]]`` (any
array-like works; rows are L2-normalized here, so every threshold below is about
cosine similarity) and, where relevant, a ``redis_url`` and a cosine **similarity**
threshold ``similarity`` in [0, 1]: "a stored question is a hit when
cos(q, stored) >= similarity". Each adapter converts it to its peer's own scale:

=====================  ==================================  ===============================
peer                   peer's own knob                     conversion from ``similarity``
=====================  ==================================  ===============================
langchain-inmemory     none (exact string key)             ignored
redisvl-semantic       ``distance_threshold`` in [0, 2],   ``1 - similarity``
                       Redis COSINE distance ``1 - cos``,
                       hit when distance <= threshold
langchain-redis        same as redisvl (it wraps redisvl   ``1 - similarity``
                       ``SemanticCache``)
gptcache               ``Config.similarity_threshold`` t   ``(1 + similarity) / 2``
                       in [0, 1] on the evaluator's score
                       (see :class:`GPTCachePeer`)
=====================  ==================================  ===============================

Each conversion was checked at the boundary with MiniLM: setting ``similarity`` to the
measured cosine minus/plus 2e-4 flips the lookup from hit to miss for every semantic
peer.

Extra packages (not in tokenomy's extras): ``redisvl`` (0.28), ``langchain-redis==0.2.6``
(install with ``--no-deps``: it pins ``hf-xet<1.5.3``, which conflicts with
huggingface-hub 2.4's ``hf-xet>=1.6`` and is never imported), ``gptcache==0.1.44`` and
``faiss-cpu``. A missing one makes :func:`build_peers` skip that peer with the reason.

None of them needs the network: the embedder is passed in, Redis is a local server
(``tests/_support/redis_server.py`` starts a Redis Stack one), GPTCache uses faiss
and SQLite in a temp folder.

Run ``python benchmarks/cache_peers.py`` for a smoke test: it starts a Redis Stack
server, embeds with tokenomy's default MiniLM, stores 3 questions in every peer and
looks up paraphrases and an unrelated question.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

EmbedFn = Callable[[list[str]], Sequence[Sequence[float]]]

#: Fixed model description used as LangChain's ``llm_string`` by the LangChain peers.
#: A chat model builds it from its serialized config plus call params; only equality
#: matters for the caches, so any constant works for a one-model benchmark.
LLM_STRING = (
    '{"id": ["langchain", "chat_models", "fake", "BenchChatModel"], "kwargs": '
    '{"model": "bench"}, "lc": 1, "type": "constructor"}---[(\'stop\', None)]'
)

DEFAULT_SIMILARITY = 0.85

__all__ = [
    "DEFAULT_SIMILARITY",
    "LLM_STRING",
    "PEERS",
    "GPTCachePeer",
    "LangChainInMemoryPeer",
    "LangChainRedisSemanticPeer",
    "PeerCache",
    "PeerUnavailableError",
    "RedisVLSemanticPeer",
    "build_peers",
    "chat_prompt",
]


class PeerUnavailableError(RuntimeError):
    """A peer's package is not installed (or cannot run here); the message says why."""


@runtime_checkable
class PeerCache(Protocol):
    """What the benchmark drives."""

    name: str

    def store(self, question: str, answer: str) -> None: ...

    def lookup(self, question: str) -> str | None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- helpers


def _check_similarity(similarity: float) -> float:
    s = float(similarity)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"similarity must be in [0, 1]; got {similarity!r}")
    return s


def _unit_rows(embed_fn: EmbedFn, texts: list[str]) -> np.ndarray:
    """``embed_fn(texts)`` as a float32 (n, dim) array of L2-normalized rows."""
    arr = np.asarray(embed_fn(list(texts)), dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.where(norms == 0, 1.0, norms)


def _rows(arr: np.ndarray) -> list[list[float]]:
    return [[float(x) for x in row] for row in arr]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def langchain_prompt(question: str, prompt_format: str = "chat") -> str:
    """The prompt string LangChain hands its cache: :func:`chat_prompt` for a chat model
    (``"chat"``), or the bare text for a completion-style ``BaseLLM`` (``"text"``)."""
    if prompt_format == "chat":
        return chat_prompt(question)
    if prompt_format == "text":
        return question
    raise ValueError(f"prompt_format must be 'chat' or 'text'; got {prompt_format!r}")


def chat_prompt(question: str) -> str:
    """The cache key a LangChain chat model uses for a one-message conversation.

    ``BaseChatModel._generate_with_cache`` calls ``llm_cache.lookup(dumps(messages),
    llm_string)``, so the "prompt" every LangChain cache sees (and that semantic
    caches embed) is this JSON string, not the bare question.
    """
    from langchain_core.load import dumps
    from langchain_core.messages import HumanMessage

    return dumps([HumanMessage(question)])


def _chat_generations(answer: str) -> list[Any]:
    """What a chat model stores: ``[ChatGeneration(message=AIMessage(answer))]``."""
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration

    return [ChatGeneration(message=AIMessage(answer))]


def _first_text(generations: Any) -> str | None:
    if not generations:
        return None
    return str(generations[0].text)


# --------------------------------------------------------------------------- (a)


class LangChainInMemoryPeer:
    """LangChain ``InMemoryCache``: exact match on ``(prompt, llm_string)``.

    Threshold semantics: none. A lookup hits only when the chat prompt string
    (:func:`chat_prompt`, i.e. ``dumps([HumanMessage(question)])``) and
    :data:`LLM_STRING` are byte-identical to a stored pair, so any paraphrase,
    whitespace or case change misses. ``similarity`` is accepted and ignored.
    """

    name = "langchain-inmemory"

    def __init__(
        self,
        *,
        maxsize: int | None = None,
        llm_string: str = LLM_STRING,
        prompt_format: str = "chat",
    ) -> None:
        langchain_prompt("", prompt_format)  # validate
        self._format = prompt_format
        if prompt_format != "chat":
            self.name = f"{type(self).name}[{prompt_format}]"
        try:
            from langchain_core.caches import InMemoryCache
        except ImportError as exc:  # pragma: no cover
            raise PeerUnavailableError(f"langchain-core is not installed: {exc}") from exc
        self._cache = InMemoryCache(maxsize=maxsize)
        self._llm_string = llm_string

    def store(self, question: str, answer: str) -> None:
        prompt = langchain_prompt(question, self._format)
        self._cache.update(prompt, self._llm_string, _chat_generations(answer))

    def lookup(self, question: str) -> str | None:
        prompt = langchain_prompt(question, self._format)
        return _first_text(self._cache.lookup(prompt, self._llm_string))

    def clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        self.clear()


# --------------------------------------------------------------------------- (b)


class RedisVLSemanticPeer:
    """RedisVL ``SemanticCache`` (redisvl 0.28) with a ``CustomVectorizer`` over ``embed_fn``.

    Threshold semantics: ``distance_threshold`` is a Redis COSINE *distance*,
    ``1 - cos``, range [0, 2], and ``check()`` runs a ``VECTOR_RANGE`` query, which
    keeps entries with distance <= threshold (inclusive). SemanticCache does not
    normalize distances (``normalize_vector_distance`` stays False), so
    ``distance_threshold = 1 - similarity``. (RedisVL's *other* "similarity",
    ``norm_cosine_distance(d) = (2 - d) / 2``, is a different scale and is not
    used here.) The index is FLAT (exact), so there is no HNSW recall loss.

    The question is stored and embedded as-is (no chat wrapper): this is how RedisVL
    is used directly. ``ttl`` (seconds) is optional; note RedisVL *refreshes* the TTL
    of every entry returned by ``check()`` (``expire(key)`` on each hit), so hot
    entries never expire.
    """

    name = "redisvl-semantic"

    def __init__(
        self,
        embed_fn: EmbedFn,
        *,
        redis_url: str,
        similarity: float = DEFAULT_SIMILARITY,
        ttl: int | None = None,
        index_name: str | None = None,
    ) -> None:
        try:
            from redisvl.extensions.cache.llm import SemanticCache
            from redisvl.utils.vectorize import CustomVectorizer
        except ImportError as exc:
            raise PeerUnavailableError(
                f"redisvl is not installed ({exc}): pip install redisvl"
            ) from exc
        self.similarity = _check_similarity(similarity)
        self.distance_threshold = 1.0 - self.similarity

        def embed(text: str, **_: Any) -> list[float]:
            return _rows(_unit_rows(embed_fn, [text]))[0]

        def embed_many(texts: list[str], **_: Any) -> list[list[float]]:
            return _rows(_unit_rows(embed_fn, list(texts)))

        self._cache = SemanticCache(
            name=index_name or _unique("peer-redisvl"),
            distance_threshold=self.distance_threshold,
            ttl=ttl,
            vectorizer=CustomVectorizer(embed=embed, embed_many=embed_many),
            redis_url=redis_url,
            overwrite=True,
        )

    def store(self, question: str, answer: str) -> None:
        self._cache.store(prompt=question, response=answer)

    def lookup(self, question: str) -> str | None:
        hits = self._cache.check(prompt=question, num_results=1)
        return str(hits[0]["response"]) if hits else None

    def clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cache.delete()  # drops the index and its keys
        with contextlib.suppress(Exception):
            self._cache.disconnect()


# --------------------------------------------------------------------------- (c)


def _langchain_embeddings(embed_fn: EmbedFn) -> Any:
    """A LangChain ``Embeddings`` over ``embed_fn`` (unit rows)."""
    from langchain_core.embeddings import Embeddings

    class _EmbedFnEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return _rows(_unit_rows(embed_fn, list(texts)))

        def embed_query(self, text: str) -> list[float]:
            return _rows(_unit_rows(embed_fn, [text]))[0]

    return _EmbedFnEmbeddings()


class LangChainRedisSemanticPeer:
    """langchain-redis ``RedisSemanticCache`` through its real ``lookup``/``update``.

    Threshold semantics: it passes ``distance_threshold`` straight to RedisVL's
    ``SemanticCache`` (same COSINE distance ``1 - cos``, [0, 2], inclusive), so
    ``distance_threshold = 1 - similarity``. Its own default is 0.2 (RedisVL's is 0.1).

    Keys and ``llm_string``, as LangChain would drive it:

    * the prompt is the chat prompt string (:func:`chat_prompt`), so what gets
      *embedded* is the JSON ``[{"lc": 1, "type": "constructor", ... "content":
      "<question>" ...}]``, not the bare question. The shared JSON scaffolding makes
      unrelated questions look alike: with MiniLM, unrelated one-line questions score
      cos 0.69-0.95 as chat JSON versus 0.0-0.2 bare, so at similarity 0.85 this peer
      returns wrong answers. ``prompt_format="text"`` embeds the bare question instead,
      as a completion-style ``BaseLLM`` would (name suffix ``[text]``);
    * ``llm_string`` is not part of the vector search nor of the Redis key: it is
      stored in the entry's metadata and compared in Python *after* a
      ``num_results=1`` search, so the nearest entry must also carry the same
      llm_string or the lookup misses; and the entry id hashes only the prompt, so
      an ``update`` for the same prompt with another llm_string overwrites it.
    """

    name = "langchain-redis-semantic"

    def __init__(
        self,
        embed_fn: EmbedFn,
        *,
        redis_url: str,
        similarity: float = DEFAULT_SIMILARITY,
        ttl: int | None = None,
        index_name: str | None = None,
        llm_string: str = LLM_STRING,
        prompt_format: str = "chat",
    ) -> None:
        langchain_prompt("", prompt_format)  # validate
        self._format = prompt_format
        if prompt_format != "chat":
            self.name = f"{type(self).name}[{prompt_format}]"
        try:
            from langchain_redis import RedisSemanticCache
        except ImportError as exc:
            raise PeerUnavailableError(
                f"langchain-redis is not installed ({exc}): pip install --no-deps "
                "langchain-redis==0.2.6 (its hf-xet<1.5.3 pin conflicts with "
                "huggingface-hub>=2.4; it does not use hf-xet)"
            ) from exc
        self.similarity = _check_similarity(similarity)
        self.distance_threshold = 1.0 - self.similarity
        self._llm_string = llm_string
        self._cache = RedisSemanticCache(
            embeddings=_langchain_embeddings(embed_fn),
            redis_url=redis_url,
            distance_threshold=self.distance_threshold,
            ttl=ttl,
            name=index_name or _unique("peer-lcredis"),
        )

    def store(self, question: str, answer: str) -> None:
        prompt = langchain_prompt(question, self._format)
        self._cache.update(prompt, self._llm_string, _chat_generations(answer))

    def lookup(self, question: str) -> str | None:
        prompt = langchain_prompt(question, self._format)
        return _first_text(self._cache.lookup(prompt, self._llm_string))

    def clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cache.cache.delete()
        with contextlib.suppress(Exception):
            self._cache.redis.close()


# --------------------------------------------------------------------------- (d)


class GPTCachePeer:
    """GPTCache 0.1.44: ``Cache``, custom embedding, faiss, SQLite, ``SearchDistanceEvaluation``.

    Threshold semantics: the faiss store is ``IDMap,Flat`` with ``METRIC_L2`` (exact)
    and returns the *squared* L2 distance, which for unit vectors is
    ``d = 2 - 2 cos`` in [0, 4]. ``SearchDistanceEvaluation(max_distance=4.0)`` (the
    default) scores ``4 - d = 2 + 2 cos``, and GPTCache hits when
    ``score >= similarity_threshold * (4 - 0)``; so a hit means
    ``cos >= 2 t - 1``, i.e. ``similarity_threshold = (1 + similarity) / 2``
    (similarity 0.85 -> t = 0.925; GPTCache's default t = 0.8 means cos >= 0.6).

    Question and answer go through ``gptcache.adapter.api.put/get`` with
    ``pre_embedding_func=get_prompt`` (the bare question). Data lives in a private
    temp folder; ``clear()`` rebuilds an empty store there.
    """

    name = "gptcache"

    def __init__(
        self,
        embed_fn: EmbedFn,
        *,
        similarity: float = DEFAULT_SIMILARITY,
        top_k: int = 1,
    ) -> None:
        try:
            import faiss  # noqa: F401  (else GPTCache's import_faiss() runs pip install)
            from gptcache.adapter.api import get, put
            from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation
        except ImportError as exc:
            raise PeerUnavailableError(
                f"GPTCache peer needs gptcache and faiss-cpu ({exc}): "
                "pip install gptcache==0.1.44 faiss-cpu"
            ) from exc
        self.similarity = _check_similarity(similarity)
        self.similarity_threshold = (1.0 + self.similarity) / 2.0
        self._embed_fn = embed_fn
        self._dim = int(_unit_rows(embed_fn, ["dimension probe"]).shape[1])
        self._top_k = top_k
        self._get, self._put = get, put
        self._evaluation = SearchDistanceEvaluation(max_distance=4.0, positive=False)
        self._tmp = Path(tempfile.mkdtemp(prefix="peer-gptcache-"))
        # Registered before Cache.init registers its own atexit flush, so (LIFO) the
        # folder outlives GPTCache's final flush and is then removed.
        atexit.register(shutil.rmtree, self._tmp, True)
        self._cache = self._new_cache()

    def _new_cache(self) -> Any:
        from gptcache import Cache, Config
        from gptcache.manager import CacheBase, VectorBase, get_data_manager
        from gptcache.processor.pre import get_prompt

        run = self._tmp / uuid.uuid4().hex[:8]
        run.mkdir()
        data_manager = get_data_manager(
            CacheBase("sqlite", sql_url=f"sqlite:///{run / 'gptcache.db'}"),
            VectorBase(
                "faiss",
                dimension=self._dim,
                index_path=str(run / "faiss.index"),
                top_k=self._top_k,
            ),
        )

        def embedding_func(data: str, **_: Any) -> np.ndarray:
            row: np.ndarray = _unit_rows(self._embed_fn, [data])[0]
            return row

        cache = Cache()
        cache.init(
            pre_embedding_func=get_prompt,
            embedding_func=embedding_func,
            data_manager=data_manager,
            similarity_evaluation=self._evaluation,
            config=Config(similarity_threshold=self.similarity_threshold),
        )
        return cache

    def store(self, question: str, answer: str) -> None:
        self._put(question, answer, cache_obj=self._cache)

    def lookup(self, question: str) -> str | None:
        res = self._get(question, cache_obj=self._cache)
        return None if res is None else str(res)

    @staticmethod
    def _retire(cache: Any) -> None:
        """Close a cache's store and neuter the ``atexit`` flush GPTCache registered
        for it (which would otherwise write faiss.index into a deleted folder)."""
        with contextlib.suppress(Exception):
            cache.data_manager.close()
        cache.data_manager = _NullDataManager()

    def clear(self) -> None:
        self._retire(self._cache)
        for run in self._tmp.iterdir():
            shutil.rmtree(run, ignore_errors=True)
        self._cache = self._new_cache()

    def close(self) -> None:
        self._retire(self._cache)
        shutil.rmtree(self._tmp, ignore_errors=True)


class _NullDataManager:
    """Stands in for a closed GPTCache data manager so its atexit ``close()`` is a no-op."""

    def close(self) -> None:
        pass

    def flush(self) -> None:
        pass


# --------------------------------------------------------------------------- factory

PEERS = ("langchain-inmemory", "redisvl-semantic", "langchain-redis-semantic", "gptcache")


def build_peers(
    embed_fn: EmbedFn,
    *,
    redis_url: str | None,
    similarity: float = DEFAULT_SIMILARITY,
    names: Sequence[str] = PEERS,
) -> tuple[list[PeerCache], dict[str, str]]:
    """Build the named peers; return ``(peers, skipped)`` with ``skipped[name] = reason``.

    Redis-backed peers are skipped when ``redis_url`` is None. Each Redis peer gets its
    own uniquely named index, so several peers (and runs) can share one server.
    """
    _check_similarity(similarity)
    peers: list[PeerCache] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            if name == "langchain-inmemory":
                peers.append(LangChainInMemoryPeer())
            elif name == "gptcache":
                peers.append(GPTCachePeer(embed_fn, similarity=similarity))
            elif name in ("redisvl-semantic", "langchain-redis-semantic"):
                if redis_url is None:
                    skipped[name] = "no redis_url given"
                    continue
                cls: type[RedisVLSemanticPeer | LangChainRedisSemanticPeer] = (
                    RedisVLSemanticPeer
                    if name == "redisvl-semantic"
                    else LangChainRedisSemanticPeer
                )
                peers.append(cls(embed_fn, redis_url=redis_url, similarity=similarity))
            else:
                raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
        except PeerUnavailableError as exc:
            skipped[name] = str(exc)
    return peers, skipped


# --------------------------------------------------------------------------- smoke test


def _smoke() -> int:
    import sys
    import time
    import warnings

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "tests" / "_support"))
    from redis_server import RedisStackServer, RedisStackUnavailableError

    from tokenomy.embed import default_embedder

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    embedder = default_embedder()

    def embed_fn(texts: list[str]) -> list[list[float]]:
        return _rows(embedder.embed(texts))

    qa = [
        ("What is the capital of France?", "Paris"),
        ("How do I reset my password?", "Use the 'Forgot password' link."),
        ("Who wrote Hamlet?", "William Shakespeare"),
    ]
    probes = [
        ("What is the capital of France?", "Paris"),  # exact
        ("what's the capital city of France", "Paris"),  # paraphrase
        ("I forgot my password, how can I reset it?", "Use the 'Forgot password' link."),
        ("Which playwright wrote Hamlet?", "William Shakespeare"),
        ("How tall is Mount Everest?", None),  # unrelated: must miss
    ]
    q_vecs = _unit_rows(embed_fn, [q for q, _ in qa])
    for probe, _ in probes:
        sims = q_vecs @ _unit_rows(embed_fn, [probe])[0]
        chat = (
            _unit_rows(embed_fn, [chat_prompt(q) for q, _ in qa])
            @ _unit_rows(embed_fn, [chat_prompt(probe)])[0]
        )
        print(
            f"  cos bare {[round(float(x), 2) for x in sims]}"
            f"  chat-json {[round(float(x), 2) for x in chat]}  <- {probe!r}"
        )

    try:
        server = RedisStackServer()
    except RedisStackUnavailableError as exc:
        print(f"no Redis Stack server ({exc}); Redis peers are skipped")
        server = None
    failures = 0
    with server or contextlib.nullcontext():
        url = server.url if server else None
        peers, skipped = build_peers(embed_fn, redis_url=url, similarity=DEFAULT_SIMILARITY)
        if url and "langchain-redis-semantic" not in skipped:
            peers.append(LangChainRedisSemanticPeer(embed_fn, redis_url=url, prompt_format="text"))
        for name, why in skipped.items():
            print(f"SKIP {name}: {why}")
        for peer in peers:
            try:
                for q, a in qa:
                    peer.store(q, a)
                row = []
                for probe, want in probes:
                    t = time.perf_counter()
                    got = peer.lookup(probe)
                    ms = (time.perf_counter() - t) * 1000
                    flag = "" if got == want else "(!)"
                    row.append(f"{'hit ' if got else 'miss'}{flag} {ms:5.1f}ms")
                    if probe == qa[0][0] and got != want:  # an exact repeat must hit
                        failures += 1
                peer.clear()
                if peer.lookup(qa[0][0]) is not None:
                    failures += 1
                    row.append("clear() left data")
                print(f"{peer.name:31} " + " | ".join(row))
            finally:
                peer.close()
    print(
        "(!) = not the expected answer (a paraphrase miss or a wrong hit is the peer's own "
        "behaviour at this threshold); lookup times exclude embedding (MiniLM results are "
        "cached by the embedder)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(_smoke())

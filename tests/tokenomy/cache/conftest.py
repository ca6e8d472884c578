import pytest
from fakes import Clock

from tokenomy.cache import SemanticCache
from tokenomy.embed import HashingEmbedder


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_cache(clock):
    def make(**kw):
        kw.setdefault("embedder", HashingEmbedder())
        kw.setdefault("verifier", None)
        kw.setdefault("guards", False)
        kw.setdefault("similarity", 0.8)
        return SemanticCache(clock=clock, **kw)

    return make

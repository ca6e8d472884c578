"""The README stays true: its test command is CI's, and its core example runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    commands = re.findall(r"```bash\n(.+?)\n```", README)
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_readme_main_job_command_runs_tokenomy_audit():
    commands = re.findall(r"```bash\n(.+?)\n```", README)
    assert any(c.endswith("tokenomy audit") and "constraints.txt" in c for c in commands)


def test_count_and_price_snippet_matches_its_comments():
    block = re.search(r"```python\n(from tokenomy import count_tokens.+?)```", README, re.S).group(
        1
    )
    namespace: dict = {}
    lines = block.splitlines()
    exec(lines[0], namespace)
    checked = 0
    value = None
    for line in lines[1:]:
        code, _, expected = line.partition("#")
        if code.strip():
            value = eval(code.strip(), namespace)
        expected = expected.strip()
        if expected:  # a comment states the value of the line's (or the previous line's) code
            assert expected in (repr(value), str(value)) or str(value).startswith(expected), line
            checked += 1
    assert checked == 4


def test_every_python_snippet_of_the_readme_runs():
    """Each snippet runs as written, with the provider clients it names (ChatOpenAI,
    OpenAI) stood in for by offline fakes of the same shape."""
    from langchain_core.language_models import FakeListChatModel
    from llama_index.core import Settings
    from llama_index.core.llms import MockLLM

    import langchain_tokenomy
    import llama_index_tokenomy

    class ChatOpenAI(FakeListChatModel):
        model_name: str = "gpt-4o-mini"

        def __init__(self, model: str = "gpt-4o-mini", **kwargs):
            super().__init__(model_name=model, responses=["Paris."], **kwargs)

    def OpenAI(model: str = "gpt-4o-mini"):  # noqa: N802 - the client's own name
        return MockLLM(max_tokens=8)

    blocks = re.findall(r"```python\n(.+?)```", README, re.S)
    assert len(blocks) >= 3
    saved_llm = Settings._llm
    try:
        for block in blocks:
            exec(block, {"ChatOpenAI": ChatOpenAI, "OpenAI": OpenAI, "Settings": Settings})
    finally:
        langchain_tokenomy.disable()
        llama_index_tokenomy.disable()
        Settings._llm = saved_llm

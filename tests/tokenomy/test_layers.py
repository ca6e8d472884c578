"""The house (DESIGN.md): foundations -> techniques -> pipeline -> front doors.

Arrows point down only and there are no circles. Every ``import`` of every module
under ``core/tokenomy`` is read with ``ast`` (also the ones inside functions and
under ``TYPE_CHECKING``, which are arrows too), so a new package has to be placed
in the table below before it can land, and an import that points up fails here
with the file and line to fix.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"

FOUNDATION, TECHNIQUE, PIPELINE, FRONT_DOOR = 0, 1, 2, 3
LAYER_NAMES = {0: "foundation", 1: "technique", 2: "pipeline", 3: "front door"}

# Top-level name under ``tokenomy`` -> its layer. "" is ``tokenomy/__init__.py``.
LAYERS: dict[str, int] = {
    "errors": FOUNDATION,
    "_optional": FOUNDATION,
    "_failures": FOUNDATION,
    "tokens": FOUNDATION,
    "text": FOUNDATION,  # segments, re-encoding, words, message helpers
    "embed": FOUNDATION,  # embedders, vector indexes
    "cache": TECHNIQUE,
    "compress": TECHNIQUE,
    "context": TECHNIQUE,
    "select": TECHNIQUE,
    "route": TECHNIQUE,
    "output": TECHNIQUE,
    "budget": TECHNIQUE,
    "batch": TECHNIQUE,
    "monitor": TECHNIQUE,
    "pipeline": PIPELINE,
    "audit": FRONT_DOOR,
    "cli": FRONT_DOOR,
    "__main__": FRONT_DOOR,  # python -m tokenomy
    "serve": FRONT_DOOR,
    "telemetry": FRONT_DOOR,  # exports the ledger's records and the pipeline's trace
    "settings": FRONT_DOOR,  # builds components from the environment
    "": FRONT_DOOR,  # the curated top-level re-exports
}

# A technique that uses another one through that technique's public package, each
# with the reason it is not (yet) injected from above. Keep this short.
TECHNIQUE_USES: dict[tuple[str, str], str] = {
    ("context", "compress"): (
        "ExtractiveSummarizer, the window's default summary of evicted turns, is "
        "extractive compression (imported lazily, public name only)"
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "tokenomy.cache.cache"
    target: str  # the imported module or name, e.g. "tokenomy.embed.vectors.VectorGroup"
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(path: Path) -> list[Import]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit_one(stmt, True)
                for stmt in child.orelse:
                    visit_one(stmt, type_only)
            else:
                visit_one(child, type_only)

    def visit_one(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(module, a.name, node.lineno, type_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.extend(
                Import(module, f"{source}.{a.name}", node.lineno, type_only) for a in node.names
            )
        visit(node, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return [i for i in found if i.target == "tokenomy" or i.target.startswith("tokenomy.")]


MODULES = {_module_name(p): p for p in sorted((CORE / "tokenomy").rglob("*.py"))}
IMPORTS = [i for path in MODULES.values() for i in _imports_of(path)]


def _package(dotted: str) -> str:
    """The top-level package of a dotted name: tokenomy.cache.tiers.disk -> cache."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(target: str) -> str:
    """The module an imported name lives in (longest known module prefix)."""
    parts = target.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts)


def test_every_core_package_has_a_layer() -> None:
    unplaced = sorted({_package(m) for m in MODULES} - set(LAYERS))
    assert not unplaced, (
        f"Place these packages in LAYERS (tests/tokenomy/test_layers.py): {unplaced}"
    )


def test_the_parser_sees_known_arrows() -> None:
    # a guard against a parser that finds nothing and so passes everything
    seen = {(i.module, _resolve(i.target)) for i in IMPORTS}
    assert ("tokenomy.cache.tiers.memory", "tokenomy.embed.vectors") in seen
    assert ("tokenomy.audit.builtin", "tokenomy.audit.compression") in seen  # lazy import
    assert any(i.type_only for i in IMPORTS)


@pytest.mark.parametrize("layer", [FOUNDATION, TECHNIQUE, PIPELINE])
def test_no_arrow_points_up(layer: int) -> None:
    upward = [
        f"{i} ({LAYER_NAMES[LAYERS[_package(i.target)]]})"
        for i in IMPORTS
        if LAYERS.get(_package(i.module)) == layer
        and LAYERS.get(_package(i.target), FRONT_DOOR) > layer
    ]
    assert not upward, f"A {LAYER_NAMES[layer]} imports from above it:\n" + "\n".join(upward)


def test_no_technique_imports_another() -> None:
    sideways = []
    for i in IMPORTS:
        src, dst = _package(i.module), _package(i.target)
        if src == dst or LAYERS.get(src) != TECHNIQUE or LAYERS.get(dst) != TECHNIQUE:
            continue
        if (src, dst) in TECHNIQUE_USES and _resolve(i.target) == f"tokenomy.{dst}":
            continue  # an acknowledged use of the other technique's public package
        sideways.append(str(i))
    assert not sideways, (
        "Techniques never import each other; move what they share into a foundation "
        "(tokenomy.text, tokenomy.embed, tokenomy.tokens) or inject it from the pipeline:\n"
        + "\n".join(sideways)
    )


def test_acknowledged_technique_uses_are_still_needed() -> None:
    used = {(_package(i.module), _package(i.target)) for i in IMPORTS}
    stale = [pair for pair in TECHNIQUE_USES if pair not in used]
    assert not stale, f"Remove these from TECHNIQUE_USES, nothing needs them now: {stale}"


def test_nothing_in_core_imports_the_command_line() -> None:
    found = [
        str(i)
        for i in IMPORTS
        if _package(i.target) == "cli" and _package(i.module) not in ("cli", "__main__")
    ]
    assert not found, "\n".join(found)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_circles() -> None:
    # Type-only imports never run, so they cannot close a circle; lazy ones can.
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        target = _resolve(i.target)
        if not i.type_only and target and target != i.module:
            graph[i.module].add(target)
    assert not _cycles(graph), f"Import circles among core modules: {_cycles(graph)}"


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

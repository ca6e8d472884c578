"""Write docs/configuration.md: every setting, its environment variable, type and default,
generated from ``tokenomy.Settings`` so the reference cannot drift from the code.

Command (from the repository root):
    python scripts/build_config_reference.py

tests/test_docs.py fails when the committed page differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, get_origin

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "core")]

from pydantic import BaseModel  # noqa: E402

from tokenomy.settings import Settings  # noqa: E402

OUT = ROOT / "docs" / "configuration.md"

HEADER = """# Configuration reference

Every component takes its options as keyword arguments. `tokenomy.Settings` groups the
same options and builds components from them (`Settings().answer_cache()`,
`Settings().router()`, …); it reads `TOKENOMY_<GROUP>__<FIELD>` environment variables
only when you construct it (`Settings()` or `Settings.from_env()`), never at import.
Each default below is the component's own named constant.

This page is generated from the code: `python scripts/build_config_reference.py`.

```python
>>> from tokenomy import Settings
>>> Settings(cache={"mode": "exact"}).cache.mode
'exact'

```
"""


def _type(annotation: Any) -> str:
    text = str(annotation) if get_origin(annotation) else annotation.__name__
    text = text.replace("typing.", "").replace("pathlib.", "").replace("NoneType", "None")
    return text.replace("|", "\\|")  # a pipe would end the table cell


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    return f"`{value!r}`".replace("|", "\\|")


def render() -> str:
    lines = [HEADER]
    for group, gfield in Settings.model_fields.items():
        model = gfield.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        lines.append(f"\n## `{group}` — {doc}\n")
        lines.append("| setting | environment variable | type | default | meaning |")
        lines.append("|---|---|---|---|---|")
        for name, field in model.model_fields.items():
            env = f"TOKENOMY_{group.upper()}__{name.upper()}"
            meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| `{group}.{name}` | `{env}` | `{_type(field.annotation)}` | "
                f"{_default(field)} | {meaning} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

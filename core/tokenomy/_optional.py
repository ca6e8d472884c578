"""The one helper for importing optional dependencies."""

from __future__ import annotations

import importlib
from types import ModuleType

from tokenomy.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, feature: str, package: str | None = None, extra: str) -> ModuleType:
    """Import ``module`` or raise an error naming the feature, package and extra.

    Args:
        module: dotted module name to import, e.g. ``"redis"``.
        feature: what the caller is trying to use, e.g. ``"the Redis cache tier"``.
        package: the PyPI package that provides ``module`` (default: ``module``).
        extra: the tokenomy extra that installs it, e.g. ``"redis"``.

    Raises:
        MissingDependencyError: chained to the original ``ImportError``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module.split(".")[0]
        raise MissingDependencyError(
            f"Using {feature}, but the '{pkg}' package is not installed. "
            f"Make sure to install tokenomy using `pip install tokenomy[{extra}]`."
        ) from exc

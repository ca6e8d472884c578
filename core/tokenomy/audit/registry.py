"""The registry of ``tokenomy audit``'s plug-ins by name: the built-in ones first,
then any registered with :func:`register_audit_plugin`.

``tokenomy audit`` runs every registered plug-in unless ``--only`` names a subset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from tokenomy.audit.builtin import BUILTIN_PLUGINS
from tokenomy.audit.gateway import GATEWAY_PLUGINS
from tokenomy.audit.plugins import AuditPlugin
from tokenomy.errors import ConfigError, UnknownNameError

__all__ = ["available_plugins", "create_plugins", "register_audit_plugin"]

_registry: dict[str, Callable[[], AuditPlugin]] = {**BUILTIN_PLUGINS, **GATEWAY_PLUGINS}
_lock = threading.Lock()


def register_audit_plugin(name: str, factory: Callable[[], AuditPlugin]) -> None:
    """Make ``factory()`` run by ``tokenomy audit`` under ``name`` (replacing any)."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"Plug-in name must be a non-empty string; got {name!r}.")
    if not callable(factory):
        raise ConfigError(f"Plug-in factory for {name!r} must be callable; got {factory!r}.")
    with _lock:
        _registry[name] = factory


def available_plugins() -> list[str]:
    """Names of the registered plug-ins, in registration order."""
    return list(_registry)


def create_plugins(names: Sequence[str] | None = None) -> list[AuditPlugin]:
    """Instantiate the named plug-ins (default: all registered)."""
    chosen = list(_registry) if names is None else list(names)
    unknown = [n for n in chosen if n not in _registry]
    if unknown:
        raise UnknownNameError(
            f"Unknown audit plug-in(s) {unknown}; available: {', '.join(_registry)}."
        )
    return [_registry[n]() for n in chosen]

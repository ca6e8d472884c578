"""Rebuilding a runnable that wraps one chat model so that it wraps another."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable, RunnableBinding, RunnableParallel, RunnableSequence

__all__ = ["rebind_model"]


def _swap(node: Any, old: Any, new: Any) -> tuple[Any, bool]:
    if node is old:
        return new, True
    if isinstance(node, RunnableBinding):
        bound, changed = _swap(node.bound, old, new)
        if changed:
            return node.__class__(
                bound=bound,
                kwargs=node.kwargs,
                config=node.config,
                config_factories=node.config_factories,
                custom_input_type=node.custom_input_type,
                custom_output_type=node.custom_output_type,
            ), True
        return node, False
    if isinstance(node, RunnableSequence):
        steps = [_swap(step, old, new) for step in node.steps]
        if any(changed for _, changed in steps):
            first, *middle, last = (step for step, _ in steps)
            return RunnableSequence(first, *middle, last, name=node.name), True
        return node, False
    if isinstance(node, RunnableParallel):
        items = {k: _swap(v, old, new) for k, v in node.steps__.items()}
        if any(changed for _, changed in items.values()):
            return RunnableParallel({k: v for k, (v, _) in items.items()}), True
        return node, False
    return node, False


def rebind_model(runnable: Runnable[Any, Any], old: Any, new: Any) -> Runnable[Any, Any] | None:
    """``runnable`` with every use of model ``old`` replaced by ``new``; None if none found.

    Used so that ``with_structured_output`` keeps the inner model's own formatting
    (response_format, tool schemas, parsers) while calls go through the wrapper.
    """
    swapped, changed = _swap(runnable, old, new)
    return swapped if changed else None

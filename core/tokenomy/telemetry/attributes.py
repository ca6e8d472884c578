"""Attribute names: OpenTelemetry's GenAI semantic conventions, and tokenomy's own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["call_attributes", "hashed", "saved_by_technique", "stage_times"]

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"


def hashed(value: str) -> str:
    """A stable, non-reversible label for a user id (12 hex characters of SHA-256)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def saved_by_technique(
    record: Any, trace: Mapping[str, Any] | None
) -> dict[str, tuple[int, float]]:
    """``{technique: (tokens, usd)}`` saved on a call: the record's cache savings and
    the pipeline trace's stages (context, output…), each counted once."""
    out: dict[str, tuple[int, float]] = {}
    for technique, tokens in (record.saved_tokens or {}).items():
        out[technique] = (int(tokens), float((record.saved_cost_usd or {}).get(technique, 0.0)))
    for stage in (trace or {}).get("stages") or ():
        tokens = int(stage.get("saved_tokens") or 0)
        name = str(stage.get("stage"))
        if tokens and name != "cache":  # the cache's savings are the record's already
            before = out.get(name, (0, 0.0))
            out[name] = (before[0] + tokens, before[1] + float(stage.get("saved_usd") or 0.0))
    return out


def stage_times(trace: Mapping[str, Any] | None) -> dict[str, float]:
    """``{stage: milliseconds}`` the pipeline's stages took on a call (its trace's
    ``stage_ms``); empty for calls that did not go through a pipeline."""
    out: dict[str, float] = {}
    for stage, ms in ((trace or {}).get("stage_ms") or {}).items():
        if isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0:
            out[str(stage)] = float(ms)
    return out


def call_attributes(record: Any, details: Mapping[str, Any], *, user: str | None) -> dict[str, Any]:
    """The span attributes of one recorded call (no prompt or answer text)."""
    attrs: dict[str, Any] = {OPERATION: str(details.get("operation") or "chat")}
    request_model = details.get("request_model") or record.model
    if request_model:
        attrs[REQUEST_MODEL] = str(request_model)
    if record.model:
        attrs[RESPONSE_MODEL] = str(record.model)
    if details.get("provider"):
        attrs[PROVIDER] = str(details["provider"])
    for key, name in ((REQUEST_MAX_TOKENS, "max_tokens"), (REQUEST_TEMPERATURE, "temperature")):
        value = details.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[key] = value
    reasons = [str(r) for r in details.get("finish_reasons") or () if r]
    if reasons:
        attrs[FINISH_REASONS] = reasons
    if not record.cache_hit:  # a hit had no provider usage
        attrs[INPUT_TOKENS] = record.input_tokens
        attrs[OUTPUT_TOKENS] = record.output_tokens
    if record.cost_usd is not None:
        attrs["tokenomy.cost_usd"] = float(record.cost_usd)
    attrs["tokenomy.usage.estimated"] = not record.exact
    attrs["tokenomy.status"] = record.status
    if record.cache_hit:
        attrs["tokenomy.cache.hit"] = next(iter(record.saved_tokens or {"cache": 0}))
    trace = details.get("trace")
    saved = saved_by_technique(record, trace)
    if saved:
        attrs["tokenomy.saved.tokens"] = sum(t for t, _ in saved.values())
        attrs["tokenomy.saved.usd"] = round(sum(u for _, u in saved.values()), 10)
        for technique, (tokens, usd) in saved.items():
            attrs[f"tokenomy.saved.{technique}.tokens"] = tokens
            if usd:
                attrs[f"tokenomy.saved.{technique}.usd"] = round(usd, 10)
    route = details.get("route")
    if isinstance(route, Mapping) and route.get("model"):
        attrs["tokenomy.route.model"] = str(route["model"])
        attrs["tokenomy.route.reason"] = str(route.get("reason", ""))[:200]
    for stage in (trace or {}).get("stages") or ():
        if stage.get("stage") == "budget" and stage.get("outcome"):
            attrs["tokenomy.budget"] = str(stage["outcome"])
    if user is not None:
        attrs["tokenomy.user"] = user
    if details.get("error") is not None:
        attrs[ERROR_TYPE] = type(details["error"]).__name__
    return attrs


def text_of(value: Any) -> str:
    """Prompt or answer content as text, for the opt-in content events."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)

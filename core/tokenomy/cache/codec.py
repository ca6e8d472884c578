"""How a cache entry is written to a shared tier: data, never code.

An entry leaves the process as one JSON object with a schema version (``"v"``),
plain fields and the vector as base64 float32. Reading it back is a strict parse:
no pickle, no ``eval``, no object hooks, no ``NaN``/``Infinity``; every field is
type- and range-checked, the id must be the one asked for, and the vector must be
finite. Whatever fails raises :class:`~tokenomy.errors.CacheEntryError` with a short
reason, which the cache turns into a counted miss.

With a signing key, the object also carries ``"sig"``: HMAC-SHA256 over the key and
the canonical JSON of every other field (id, partition, context, question, vector,
answer, cost, timestamps). An entry without it, or with one that does not match, is
refused as ``"unsigned"`` / ``"bad signature"``. Because the id (a hash of the exact
request) and ``expires_at`` are signed, a valid entry cannot be moved under another
question or have its lifetime extended; it can only be deleted, or replaced by an
older valid entry of the same question (see the README's trust model).

Example:
    >>> import numpy as np
    >>> from tokenomy.cache.entry import CacheEntry
    >>> e = CacheEntry(id="ab", partition="p", context="c", query="q?",
    ...                vector=np.ones(2, dtype=np.float32), payload="A.")
    >>> decode_entry(encode_entry(e, key=b"k"), entry_id="ab", key=b"k").payload
    'A.'
    >>> decode_entry(encode_entry(e, key=None), entry_id="ab", key=b"k")
    Traceback (most recent call last):
    ...
    tokenomy.errors.CacheEntryError: unsigned: the entry has no signature and a signing key is set
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from typing import Any, Final, NoReturn

from tokenomy.cache.entry import CacheEntry
from tokenomy.errors import CacheEntryError, ConfigError

__all__ = ["MAX_ENTRY_BYTES", "SCHEMA_VERSION", "decode_entry", "encode_entry", "signing_key"]

SCHEMA_VERSION: Final = 1
MAX_ENTRY_BYTES: Final = 64 * 2**20
"""An entry larger than this (64 MiB) is refused unread."""

_MAX_TOKENS: Final = 2**53
_STR_FIELDS: Final = ("id", "partition", "context", "payload")
_OPT_STR_FIELDS: Final = ("query", "model")


def signing_key(key: str | bytes | None) -> bytes | None:
    """The HMAC key as bytes (a str is UTF-8 encoded); None or empty means no signing.

    Raises:
        ConfigError: the key is shorter than 16 bytes (too easy to guess).
    """
    if key is None:
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not raw:
        return None
    if len(raw) < 16:
        raise ConfigError(
            f"The cache signing key is {len(raw)} bytes; use at least 16 random bytes, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    return raw


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _sign(doc: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(doc), hashlib.sha256).hexdigest()


def encode_entry(entry: CacheEntry, *, key: bytes | None) -> bytes:
    """The entry as versioned JSON bytes, signed when ``key`` is given."""
    vector = None
    if entry.vector is not None:
        vector = base64.b64encode(entry.vector.astype("<f4").tobytes()).decode("ascii")
    doc: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "id": entry.id,
        "partition": entry.partition,
        "context": entry.context,
        "query": entry.query,
        "vector": vector,
        "payload": entry.payload,
        "model": entry.model,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "created_at": entry.created_at,
        "expires_at": entry.expires_at,
    }
    if key is not None:
        doc["sig"] = _sign(doc, key)
    return _canonical(doc)


def _fail(reason: str, detail: str) -> NoReturn:
    raise CacheEntryError(reason, detail)


def _refuse_constant(name: str) -> NoReturn:
    _fail("undecodable", f"{name} is not a number")


def _parse(raw: Any) -> dict[str, Any]:
    if isinstance(raw, memoryview | bytearray):
        raw = bytes(raw)
    if not isinstance(raw, bytes | str):
        _fail("undecodable", f"expected JSON bytes, got {type(raw).__name__}")
    if len(raw) > MAX_ENTRY_BYTES:
        _fail("invalid", f"{len(raw):,} bytes is over the {MAX_ENTRY_BYTES:,}-byte limit")
    try:
        doc = json.loads(raw, parse_constant=_refuse_constant)
    except CacheEntryError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        _fail("undecodable", f"{type(exc).__name__}: {str(exc)[:80]}")
    if not isinstance(doc, dict):
        _fail("undecodable", f"expected a JSON object, got {type(doc).__name__}")
    return doc


def _number(doc: dict[str, Any], name: str, *, optional: bool = False) -> float | None:
    value = doc.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail("invalid", f"{name!r} must be a number")
    number = float(value) if abs(value) < 1e300 else math.inf
    if not math.isfinite(number):
        _fail("invalid", f"{name!r} must be finite")
    return number


def _count(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_TOKENS:
        _fail("invalid", f"{name!r} must be a token count >= 0")
    return value


def _vector(text: Any) -> Any:
    import numpy as np

    if text is None:
        return None
    if not isinstance(text, str):
        _fail("invalid", "'vector' must be base64 text or null")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        _fail("invalid", "'vector' is not valid base64")
    if not data or len(data) % 4:
        _fail("invalid", f"'vector' holds {len(data)} bytes, not a whole number of float32")
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        _fail("invalid", "'vector' holds NaN or infinity")
    return vector


def decode_entry(raw: Any, *, entry_id: str | None, key: bytes | None) -> CacheEntry:
    """Parse and check stored bytes; the entry, or :class:`CacheEntryError`.

    Args:
        raw: what the tier read (bytes or str).
        entry_id: the id the entry was looked up under; None to skip that check.
        key: the signing key, or None when entries are not signed.
    """
    doc = _parse(raw)
    if doc.get("v") != SCHEMA_VERSION:
        _fail("unsupported schema", f"version {doc.get('v')!r}, not {SCHEMA_VERSION}")
    if key is not None:
        sig = doc.pop("sig", None)
        if not isinstance(sig, str):
            _fail("unsigned", "the entry has no signature and a signing key is set")
        if not hmac.compare_digest(sig, _sign(doc, key)):
            _fail("bad signature", "the entry was changed or written without the key")
    for name in _STR_FIELDS:
        if not isinstance(doc.get(name), str):
            _fail("invalid", f"{name!r} must be a string")
    for name in _OPT_STR_FIELDS:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            _fail("invalid", f"{name!r} must be a string or null")
    if entry_id is not None and doc["id"] != entry_id:
        _fail("invalid", "the entry is stored under another entry's id")
    return CacheEntry(
        id=doc["id"],
        partition=doc["partition"],
        context=doc["context"],
        query=doc.get("query"),
        vector=_vector(doc.get("vector")),
        payload=doc["payload"],
        model=doc.get("model"),
        input_tokens=_count(doc, "input_tokens"),
        output_tokens=_count(doc, "output_tokens"),
        created_at=_number(doc, "created_at") or 0.0,
        expires_at=_number(doc, "expires_at", optional=True),
    )

"""Reading a workload's lines: in blocks, gzipped or not, each decoded as JSON (orjson
when installed, read as the standard library reads it)."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:  # a faster JSON parser, when installed (the [local] extra): ~1.2x faster reads
    import orjson as _orjson
except ImportError:  # pragma: no cover - the standard library reads the same
    _orjson = None  # type: ignore[assignment]

__all__ = ["decode", "iter_lines"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_HUGE = float(2**63)  # orjson reads a longer integer as a float; json as an int


def _fix_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates replaced by U+FFFD (in strings, keys and lists)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    return value


def iter_lines(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) pairs, read in 64 KB blocks; ``progress`` gets bytes read
    of the file on disk.

    Raises:
        _TruncatedError: a gzip stream broke after the lines already yielded.
    """
    with path.open("rb") as raw:
        gz = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else None
        read = gz.read1 if gz is not None else raw.read
        last = number = 0
        pending: list[bytes] = []  # the start of a line that goes on in the next block
        while True:
            try:
                block = read(_BLOCK)
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise _TruncatedError(number, exc) from exc
            if progress is not None:
                pos = raw.tell()
                if pos != last:
                    progress(pos - last)
                    last = pos
            if not block:
                if pending:
                    yield number + 1, b"".join(pending)
                return
            if b"\n" not in block:
                pending.append(block)
                continue
            lines = block.split(b"\n")
            if pending:
                lines[0] = b"".join((*pending, lines[0]))
            pending = [lines.pop()]
            for line in lines:
                number += 1
                yield number, line


_BLOCK = 1 << 16


class _TruncatedError(Exception):
    def __init__(self, after: int, cause: BaseException) -> None:
        super().__init__(
            f"the gzip stream breaks after line {after:,} ({cause}); the lines "
            "before the break were audited, the rest of the file was not"
        )
        self.after = after


def decode(raw: bytes) -> Any:
    """The JSON value of one line: orjson when installed and it reads the line as the
    standard library does (no lone surrogate, no integer of 2**63 or more), else the
    standard library, whose errors are the ones reported."""
    if _orjson is not None:  # it refuses lone surrogates: they go to the standard library
        try:
            obj = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass  # the standard library says why, in its words
        else:
            if not _has_huge_number(obj):
                return obj
    try:
        obj = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ValueError(f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if _SURROGATE_ESCAPE.search(raw):
        obj = _fix_surrogates(obj)
    return obj


def _has_huge_number(value: Any, depth: int = 0) -> bool:
    """Whether a float of 2**63 or more is anywhere in ``value`` (what orjson makes of a
    20-digit integer; the standard library keeps it an int, and its errors say so)."""
    if isinstance(value, float):
        return abs(value) >= _HUGE
    if depth > 64:
        return True  # let the standard library judge deep nesting
    if isinstance(value, dict):
        return any(_has_huge_number(v, depth + 1) for v in value.values() if not isinstance(v, str))
    if isinstance(value, list):
        return any(_has_huge_number(v, depth + 1) for v in value if not isinstance(v, str))
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")

"""Codecs shared by front doors: plain text, and JSON-safe metadata."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from tokenomy.cache import Answer
from tokenomy.pipeline.request import Sent, Trace

__all__ = ["TextCodec", "jsonable", "replay_pieces"]

_PIECE = re.compile(r"\S+\s*|\s+")


def replay_pieces(text: str, min_chars: int = 1) -> Iterator[str]:
    """``text`` as the pieces a stream replays it in (a cached answer served to a
    streaming caller): words with their trailing whitespace, grouped until a piece has
    ``min_chars``; a word is never split and the pieces join back to ``text``.

    Example:
        >>> list(replay_pieces("Paris is  the capital."))
        ['Paris ', 'is  ', 'the ', 'capital.']
        >>> list(replay_pieces("Paris is the capital.", min_chars=8))
        ['Paris is ', 'the capital.']
    """
    piece = ""
    for word in _PIECE.findall(text):
        piece += word
        if len(piece) >= min_chars:
            yield piece
            piece = ""
    if piece:
        yield piece


def jsonable(value: Any) -> Any:
    """``value`` with everything JSON cannot hold converted, so a stored answer can be
    rebuilt: datetime -> ISO text, Decimal / UUID / paths / enums -> text, bytes ->
    base64, set -> sorted list; an unknown object -> its ``str``. Containers are copied
    (the caller's values are never changed).

    Example:
        >>> jsonable({"at": dt.date(2026, 1, 2), "ids": {3, 1}, "raw": b"hi"})
        {'at': '2026-01-02', 'ids': [1, 3], 'raw': 'aGk='}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, decimal.Decimal | uuid.UUID | PurePath | dt.timedelta):
        return str(value)
    return str(value)


class TextCodec:
    """Results and chunks that are plain strings (tests, simple front doors)."""

    def answer(self, result: str, sent: Sent) -> Answer:
        return Answer(payload=result, text=result, model=sent.model or sent.request.model)

    def rebuild(self, payload: str, served: str) -> str:
        return payload

    def merge(self, chunks: Sequence[str]) -> str:
        return "".join(chunks)

    def replay(self, result: str) -> Iterable[str]:
        words = result.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]

    def annotate(self, result: str, trace: Trace) -> str:
        return result

    def text_of(self, chunk: str) -> str:
        return chunk

    def with_text(self, result: str, text: str, finish_reason: str | None) -> str:
        return text

    def last_chunk(self, trace: Trace) -> str | None:
        return None

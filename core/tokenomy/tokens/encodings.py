"""OpenAI's BPE encodings, loaded from files that ship with tokenomy.

tiktoken fetches its BPE files from a public blob store on first use
(``tiktoken/load.py``), which fails on an offline machine. tokenomy ships the two
files every current OpenAI chat model uses, ``o200k_base`` and ``cl100k_base``
(xz-compressed package data, byte-identical to OpenAI's files), checks their
SHA-256 against the values tiktoken itself pins, and builds the
``tiktoken.Encoding`` from them. Nothing here touches the network or reads
``TIKTOKEN_CACHE_DIR``.

The regular expressions and special tokens are the ones in tiktoken's
``tiktoken_ext/openai_public.py``; they are copied rather than imported because
that module's constructors download the BPE file as their first statement.
"""

from __future__ import annotations

import base64
import hashlib
import lzma
import threading
from importlib import resources
from typing import TYPE_CHECKING, Final

from tokenomy.errors import TokenizerError, UnknownNameError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["BUNDLED_ENCODINGS", "get_encoding"]

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# name -> (file, sha256 of the uncompressed file as pinned by tiktoken, pattern, specials)
_SPECS: Final[dict[str, tuple[str, str, str, dict[str, int]]]] = {
    "cl100k_base": (
        "cl100k_base.tiktoken.xz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PAT,
        {
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": (
        "o200k_base.tiktoken.xz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PAT,
        {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

BUNDLED_ENCODINGS: Final[tuple[str, ...]] = tuple(_SPECS)
"""Names of the encodings available offline."""

_lock = threading.Lock()
_loaded: dict[str, tiktoken.Encoding] = {}


def get_encoding(name: str) -> tiktoken.Encoding:
    """Return the ``tiktoken.Encoding`` called ``name``, built from bundled files.

    The first call per name reads and verifies the file (about 0.1–0.3 s); later
    calls return the same object.

    Args:
        name: ``"o200k_base"`` or ``"cl100k_base"``.

    Raises:
        UnknownNameError: for any other name; the message lists the valid ones.
        TokenizerError: if the bundled file is missing or fails its hash check.
    """
    enc = _loaded.get(name)
    if enc is not None:
        return enc
    if name not in _SPECS:
        raise UnknownNameError(
            f"No offline BPE file for encoding {name!r}. Bundled encodings: "
            f"{', '.join(BUNDLED_ENCODINGS)}. For another tokenizer, register it with "
            "tokenomy.tokens.register_tokenizer(model, tokenizer)."
        )
    with _lock:
        if name not in _loaded:
            _loaded[name] = _build(name)
        return _loaded[name]


def _build(name: str) -> tiktoken.Encoding:
    import tiktoken

    filename, sha256, pattern, specials = _SPECS[name]
    try:
        packed = resources.files("tokenomy.tokens").joinpath("data", filename).read_bytes()
        data = lzma.decompress(packed)
    except (OSError, lzma.LZMAError) as exc:
        raise TokenizerError(
            f"The bundled BPE file for {name!r} ({filename}) is missing or unreadable; "
            "reinstall tokenomy (`pip install --force-reinstall tokenomy`)."
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise TokenizerError(
            f"The bundled BPE file for {name!r} has SHA-256 {digest}, expected {sha256}; "
            "the installation is corrupt. Reinstall tokenomy."
        )
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials
    )

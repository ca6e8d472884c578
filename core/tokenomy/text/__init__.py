"""Text units and lossless re-encoding: sentences, whitespace, JSON, tables, glossaries."""

from tokenomy.text.cut import cut_to_tokens, longest_prefix
from tokenomy.text.glossary import GlossaryResult, abbreviate
from tokenomy.text.reencode import (
    collapse_whitespace,
    compact_table,
    minify_json,
    reencode,
    remove_boilerplate,
)
from tokenomy.text.segment import Granularity, Segment, segment_documents, split_sentences

__all__ = [
    "GlossaryResult",
    "Granularity",
    "Segment",
    "abbreviate",
    "collapse_whitespace",
    "compact_table",
    "cut_to_tokens",
    "longest_prefix",
    "minify_json",
    "reencode",
    "remove_boilerplate",
    "segment_documents",
    "split_sentences",
]

"""Text units and lossless re-encoding: sentence/segment splitting, whitespace, JSON, tables."""

from tokenomy.text.reencode import (
    collapse_whitespace,
    compact_table,
    minify_json,
    reencode,
    remove_boilerplate,
)
from tokenomy.text.segment import Granularity, Segment, segment_documents, split_sentences

__all__ = [
    "Granularity",
    "Segment",
    "collapse_whitespace",
    "compact_table",
    "minify_json",
    "reencode",
    "remove_boilerplate",
    "segment_documents",
    "split_sentences",
]

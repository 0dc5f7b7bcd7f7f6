"""Ingest stage: files read into ARTICLE_SCHEMA rows (see pipeline.py); the names callers use, re-exported."""

from compare.ingest.pipeline import (
    FIELD_ALIASES,
    SUPPORTED_FORMATS,
    IngestBatch,
    IngestSummary,
    RejectGroup,
    article_id,
    detect_wire_credit,
    file_hint,
    ingest,
    normalize_text,
    parse_field_map,
    parse_published,
    read_paths,
    summarise_rejects,
)

__all__ = [
    "FIELD_ALIASES",
    "SUPPORTED_FORMATS",
    "IngestBatch",
    "IngestSummary",
    "RejectGroup",
    "article_id",
    "detect_wire_credit",
    "file_hint",
    "ingest",
    "normalize_text",
    "parse_field_map",
    "parse_published",
    "read_paths",
    "summarise_rejects",
]

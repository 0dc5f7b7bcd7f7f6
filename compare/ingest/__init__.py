"""Ingest stage: files read into ARTICLE_SCHEMA rows.

readers.py reads file formats into raw records, records.py maps a record onto the schema (field
lookup, checks, the id), dates.py parses publication dates, credits.py detects wire credits, and
pipeline.py runs it all over a set of paths into the store. The names callers use are re-exported
here, so `from compare.ingest import ingest` keeps working.
"""

from compare.ingest.credits import detect_wire_credit
from compare.ingest.dates import parse_published
from compare.ingest.pipeline import IngestBatch, IngestSummary, RejectGroup, file_hint, ingest, read_paths, summarise_rejects
from compare.ingest.readers import SUPPORTED_FORMATS
from compare.ingest.records import FIELD_ALIASES, article_id, parse_field_map
from compare.text.normalize import normalize_text

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

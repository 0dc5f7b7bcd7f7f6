"""Escaping of untrusted text for terminals, CSV and JSON: titles, outlet names, claims, URLs and file
names all come from crawled input.

A light module (no heavy imports): the CLI's error path and every listing use it.
"""

from __future__ import annotations

import re

# Titles, outlet names, claims, URLs and file names come from crawled input. Terminal and CSV output
# shows control characters as visible escapes: ESC, CSI and OSC sequences could otherwise clear the
# screen or set the window title, CR overwrite a line, and bidi overrides reverse what is read.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# json.dumps already escapes C0; these others would pass raw into a JSON string.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_code(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every control character (C0 but tab and newline, DEL, C1, ESC) and every bidi
    control written as a visible escape (`\\x1b`, `\\u202e`): safe to print on a terminal or in CSV."""
    return _CONTROLS.sub(_escape_code, text)


def json_safe(rendered: str) -> str:
    """JSON text from json.dumps(ensure_ascii=False) with C1, DEL and bidi controls as \\u escapes too.

    Such characters only occur inside JSON strings, where the escape means the same character.
    """
    return _JSON_RAW.sub(lambda match: f"\\u{ord(match.group()):04x}", rendered)

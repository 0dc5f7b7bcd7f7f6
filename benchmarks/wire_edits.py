"""Seeded generator of realistic wire-copy edits from real articles, with span-level ground truth.

Each chosen article plays a wire story; each outlet's version applies one to three edits that
outlets really make: cut to the first k paragraphs, local paragraphs added (taken from other
articles), headline and lede rewritten, 5% of the words changed, a paragraph moved. Some outlets
stitch two wires together with a local paragraph. Every generated text records which character
ranges come from which wire, so reuse can be scored at span level. Same seed and input: same output.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

EDITS = ("cut", "local", "lede", "words", "move")
_WORD = re.compile(r"\w+")
_DEFAULT_TIME = datetime(2020, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SourceArticle:
    id: str
    text: str
    published: datetime | None


@dataclass(frozen=True)
class Segment:
    """text[start:end] of a generated article; `source` is the wire's article id, None for own text."""

    start: int
    end: int
    source: str | None


@dataclass(frozen=True)
class GeneratedArticle:
    id: str
    outlet: str
    title: str
    text: str
    published: datetime | None
    cluster: str | None  # the wire it copies; None for articles stitched from two wires
    segments: tuple[Segment, ...]
    edits: tuple[str, ...]


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs (blank-line separated, or line separated when there are no blank lines)."""
    parts = re.split(r"\n\s*\n", text) if "\n\n" in text else text.split("\n")
    return [part.strip() for part in parts if part.strip()]


def _words(paragraph_list: Sequence[str]) -> int:
    return sum(len(_WORD.findall(p)) for p in paragraph_list)


def eligible(article: SourceArticle, *, min_paragraphs: int = 6, min_words: int = 250) -> bool:
    found = paragraphs(article.text)
    return len(found) >= min_paragraphs and _words(found) >= min_words


def _change_words(rng: random.Random, text: str, share: float, vocabulary: Sequence[str]) -> str:
    matches = list(_WORD.finditer(text))
    chosen = sorted(rng.sample(range(len(matches)), k=max(1, round(share * len(matches))))) if matches else []
    pieces, position = [], 0
    for index in chosen:
        match = matches[index]
        pieces += [text[position : match.start()], rng.choice(vocabulary)]
        position = match.end()
    return "".join(pieces) + text[position:]


def _assemble(parts: Sequence[tuple[str, str | None]]) -> tuple[str, tuple[Segment, ...]]:
    text, segments = "", []
    for body, source in parts:
        if text:
            text += "\n\n"
        segments.append(Segment(len(text), len(text) + len(body), source))
        text += body
    return text, tuple(segments)


def _variant(
    rng: random.Random, wire: SourceArticle, local: Sequence[str], vocabulary: Sequence[str]
) -> tuple[list[tuple[str, str | None]], tuple[str, ...]]:
    parts: list[tuple[str, str | None]] = [(p, wire.id) for p in paragraphs(wire.text)]
    edits = tuple(sorted(rng.sample(EDITS, k=rng.randint(1, 3)), key=EDITS.index))
    if "cut" in edits:
        k = rng.randint(3, max(3, len(parts) - 1))
        while k < len(parts) and _words([p for p, _ in parts[1:k]]) < 80:  # enough left after a new lede
            k += 1
        parts = parts[:k]
    if "lede" in edits:
        parts[0] = (rng.choice(local), None)
    if "words" in edits:
        parts = [(_change_words(rng, body, 0.05, vocabulary), source) if source else (body, source) for body, source in parts]
    if "move" in edits and len(parts) > 2:
        moved = parts.pop(rng.randrange(1, len(parts)))
        parts.insert(rng.randrange(1, len(parts) + 1), moved)
    if "local" in edits:
        for _ in range(rng.randint(1, 3)):
            parts.insert(rng.randrange(1, len(parts) + 1), (rng.choice(local), None))
    return parts, edits


def generate(
    wires: Sequence[SourceArticle],
    local_sources: Sequence[SourceArticle],
    *,
    seed: int,
    outlets: int = 12,
    variants: tuple[int, int] = (2, 4),
    merged_share: float = 0.1,
) -> list[GeneratedArticle]:
    """The wires themselves, 2-4 edited versions of each by distinct outlets, and stitched two-wire articles.

    `local_sources` provide local paragraphs and rewritten ledes; they must share no text with the
    wires (benchmarks/wirecopy.py checks that), so what they add counts as the outlet's own text.
    """
    rng = random.Random(seed)
    local = [p for article in local_sources for p in paragraphs(article.text) if 25 <= len(_WORD.findall(p)) <= 120]
    local = sorted(set(local))
    if not local:
        raise ValueError("no local paragraphs of 25-120 words among the local sources")
    vocabulary = sorted({w for p in local[:2000] for w in _WORD.findall(p) if w.isalpha()})
    outlet_names = [f"Outlet {chr(65 + i)}" if i < 26 else f"Outlet {i}" for i in range(outlets)]
    result: list[GeneratedArticle] = []
    for wire in wires:
        when = wire.published or _DEFAULT_TIME
        text, segments = _assemble([(p, wire.id) for p in paragraphs(wire.text)])
        result.append(GeneratedArticle(wire.id, "Wire", f"wire {wire.id}", text, when, wire.id, segments, ()))
        for number, outlet in enumerate(rng.sample(outlet_names, k=rng.randint(*variants))):
            parts, edits = _variant(rng, wire, local, vocabulary)
            text, segments = _assemble(parts)
            result.append(
                GeneratedArticle(
                    f"{wire.id}~{number}", outlet, f"{outlet} version of {wire.id}", text,
                    when + timedelta(hours=rng.randint(1, 72)), wire.id, segments, edits,
                )
            )
    for number in range(round(merged_share * len(wires))):
        first, second = rng.sample(list(wires), k=2)
        a, b = paragraphs(first.text), paragraphs(second.text)
        parts = [(p, first.id) for p in a[: max(2, len(a) // 2)]] + [(rng.choice(local), None)]
        parts += [(p, second.id) for p in b[: max(2, len(b) // 2)]]
        text, segments = _assemble(parts)
        when = max(first.published or _DEFAULT_TIME, second.published or _DEFAULT_TIME) + timedelta(hours=rng.randint(1, 48))
        result.append(
            GeneratedArticle(f"merged~{number}", rng.choice(outlet_names), "two wires", text, when, None, segments, ("merge",))
        )
    return result

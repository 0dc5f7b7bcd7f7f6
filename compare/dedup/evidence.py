"""Evidence of text reuse between two articles: shared spans with offsets, and what a copy changed.

A pair called a copy must come with what a user can check: the passages both articles carry (word
and character offsets in each), and, against the probable source, the sentences the copy added,
removed or changed. Works on the shingle sequences compare.dedup.clusters computes; no I/O, no printing.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SharedSpan:
    """One passage both articles carry. Word offsets count the article's words; char offsets index its text.

    Words inside the span may differ slightly (a few edited words do not split a span).
    """

    left_words: tuple[int, int]
    right_words: tuple[int, int]
    left_chars: tuple[int, int]
    right_chars: tuple[int, int]

    @property
    def words(self) -> int:
        return self.left_words[1] - self.left_words[0]


@dataclass(frozen=True)
class ShingleRun:
    """Consecutive shingles of the left article found in the same order in the right one."""

    left: int
    right: int
    length: int


def shingle_runs(left: np.ndarray, right: np.ndarray, left_keep: np.ndarray | None = None) -> list[ShingleRun]:
    """Maximal runs of left shingles that follow each other in `right` too (vectorised, O(n log n)).

    `left_keep` masks shingles that must not count (page templates). Repeated shingles in `right`
    are matched at their first occurrence.
    """
    if left.size == 0 or right.size == 0:
        return []
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    slot = np.searchsorted(ordered, left)
    slot_clipped = np.minimum(slot, ordered.size - 1)
    found = ordered[slot_clipped] == left
    if left_keep is not None:
        found &= left_keep
    where = np.where(found, order[slot_clipped], -2)
    if not found.any():
        return []
    previous = np.concatenate(([-3], where[:-1]))
    starts_run = found & ((previous == -2) | (where != previous + 1))
    run_starts = np.flatnonzero(starts_run)
    # A run ends where the next position does not continue it.
    continues = np.concatenate((found[1:] & ~starts_run[1:], [False]))
    run_ends = np.flatnonzero(found & ~continues) + 1
    return [ShingleRun(int(s), int(where[s]), int(e - s)) for s, e in zip(run_starts, run_ends, strict=True)]


def merge_runs(runs: list[ShingleRun], max_gap: int) -> list[tuple[int, int, int, int]]:
    """Join runs separated by small gaps on both sides (edited words), as (left0, left1, right0, right1) shingle ranges."""
    merged: list[list[int]] = []
    for run in sorted(runs, key=lambda r: r.left):
        if merged:
            last = merged[-1]
            gap_left = run.left - last[1]
            gap_right = run.right - last[3]
            if 0 <= gap_left <= max_gap and 0 <= gap_right <= max_gap:
                last[1] = run.left + run.length
                last[3] = run.right + run.length
                continue
        merged.append([run.left, run.left + run.length, run.right, run.right + run.length])
    return [tuple(m) for m in merged]  # type: ignore[misc]


def shared_spans(
    left_shingles: np.ndarray,
    right_shingles: np.ndarray,
    left_words: tuple[np.ndarray, np.ndarray],
    right_words: tuple[np.ndarray, np.ndarray],
    *,
    shingle_size: int,
    min_words: int,
    left_keep: np.ndarray | None = None,
) -> list[SharedSpan]:
    """Passages of at least `min_words` words both articles carry, in left order.

    `*_words` are (char starts, char ends) of each article's words; shingle i covers words i..i+size-1.
    """
    runs = shingle_runs(left_shingles, right_shingles, left_keep)
    spans = []
    for l0, l1, r0, r1 in merge_runs(runs, max_gap=shingle_size):
        lw = (l0, min(l1 - 1 + shingle_size, left_words[0].size))
        rw = (r0, min(r1 - 1 + shingle_size, right_words[0].size))
        if lw[1] - lw[0] < min_words and rw[1] - rw[0] < min_words:
            continue
        spans.append(
            SharedSpan(
                left_words=lw,
                right_words=rw,
                left_chars=(int(left_words[0][lw[0]]), int(left_words[1][lw[1] - 1])),
                right_chars=(int(right_words[0][rw[0]]), int(right_words[1][rw[1] - 1])),
            )
        )
    return spans


def covered_words(spans: list[SharedSpan], total_words: int, *, left: bool = True) -> int:
    """How many distinct words of one side the spans cover."""
    mask = np.zeros(total_words, dtype=bool)
    for span in spans:
        start, end = span.left_words if left else span.right_words
        mask[start:end] = True
    return int(mask.sum())


def own_ranges(spans: list[SharedSpan], text: str, *, left: bool = True) -> list[tuple[int, int]]:
    """Character ranges of one side's text not covered by any span (and holding a word): its own text."""
    text_length = len(text)
    covered = sorted(span.left_chars if left else span.right_chars for span in spans)
    ranges, position = [], 0
    for start, end in covered:
        if start > position:
            ranges.append((position, start))
        position = max(position, end)
    if position < text_length:
        ranges.append((position, text_length))
    return [(start, end) for start, end in ranges if _WORD.search(text, start, end)]


# ---------------------------------------------------------------- sentence diff


@dataclass(frozen=True)
class SentenceDiff:
    """What a copy did to its source, sentence by sentence (normalised for case and punctuation)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[tuple[str, str], ...]  # (source sentence, copy sentence)
    kept: int

    def summary(self) -> str:
        return f"{self.kept} kept, {len(self.changed)} changed, {len(self.added)} added, {len(self.removed)} removed"


_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*\n")
_WORD = re.compile(r"\w+")


def sentences(text: str) -> list[str]:
    """Rough sentence split, enough to show a diff; compare.text.claims.split_claims does the careful one."""
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start : match.end()].strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _key(sentence: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(sentence.lower()))


def _similar(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.6


def sentence_diff(source: str, copy: str) -> SentenceDiff:
    """Sentences the copy added, removed and changed relative to the source (difflib on sentence lists)."""
    left, right = sentences(source), sentences(copy)
    left_keys, right_keys = [_key(s) for s in left], [_key(s) for s in right]
    kept = 0
    unmatched_left: list[int] = []
    unmatched_right: list[int] = []
    matcher = difflib.SequenceMatcher(None, left_keys, right_keys, autojunk=False)
    for tag, i0, i1, j0, j1 in matcher.get_opcodes():
        if tag == "equal":
            kept += i1 - i0
        else:
            unmatched_left.extend(range(i0, i1))
            unmatched_right.extend(range(j0, j1))
    # A sentence moved elsewhere is kept; a similar one anywhere in the copy is changed.
    for i in list(unmatched_left):
        partner = next((j for j in unmatched_right if right_keys[j] == left_keys[i]), None)
        if partner is not None:
            kept += 1
            unmatched_left.remove(i)
            unmatched_right.remove(partner)
    changed: list[tuple[str, str]] = []
    removed: list[str] = []
    for i in unmatched_left:
        partner = next((j for j in unmatched_right if _similar(left_keys[i], right_keys[j])), None)
        if partner is None:
            removed.append(left[i])
        else:
            unmatched_right.remove(partner)
            changed.append((left[i], right[partner]))
    added = [right[j] for j in unmatched_right]
    return SentenceDiff(tuple(added), tuple(removed), tuple(changed), kept)


@dataclass(frozen=True)
class CopyDetail:
    """One copy against its cluster's source: scores, spans both carry, and what the copy changed."""

    article_id: str
    jaccard: float
    copy_in_source: float  # share of the copy's shingles found in the source
    source_in_copy: float  # share of the source's shingles found in the copy
    wire_share: float  # share of the copy's words inside passages shared with the source
    spans: tuple[SharedSpan, ...]  # left = copy, right = source
    own: tuple[tuple[int, int], ...]  # character ranges of the copy's own text
    diff: SentenceDiff


    def to_json(self) -> str:
        """The detail as one JSON document (what a snapshot stores per copy)."""
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, document: str) -> CopyDetail:
        data = json.loads(document)
        diff = data["diff"]
        return cls(
            article_id=data["article_id"], jaccard=data["jaccard"], copy_in_source=data["copy_in_source"],
            source_in_copy=data["source_in_copy"], wire_share=data["wire_share"],
            spans=tuple(SharedSpan(*(tuple(pair) for pair in (span["left_words"], span["right_words"], span["left_chars"], span["right_chars"]))) for span in data["spans"]),
            own=tuple(tuple(pair) for pair in data["own"]),  # type: ignore[misc]
            diff=SentenceDiff(
                added=tuple(diff["added"]), removed=tuple(diff["removed"]),
                changed=tuple(tuple(pair) for pair in diff["changed"]), kept=diff["kept"],  # type: ignore[misc]
            ),
        )


def cluster_credit(source_credit: str | None, member_credits: Sequence[str | None]) -> str | None:
    """The wire a cluster is credited to: the credit printed on its source, else the most common among
    its members (ties to the alphabetically first), else None. The one rule listings and reports use."""
    if source_credit:
        return source_credit
    credits = [credit for credit in member_credits if credit]
    return max(sorted(set(credits)), key=credits.count) if credits else None

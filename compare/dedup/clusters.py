"""Wire copy and reprints: MinHash signatures, LSH candidates (whole articles and passages), exact checks.

Flow: texts -> word hashes -> word 5-gram shingles (compiled, compare.dedup.minhash_kernels) -> page
templates masked per outlet -> datasketch-compatible signatures -> candidates from datasketch
MinHashLSH over whole articles (Jaccard) and from banded signatures of passage windows (so a short
copy inside a long article is a candidate) -> candidates outside the time window dropped -> every
candidate verified on exact shingles, with shared spans as evidence -> copies grouped into clusters
named after their earliest article.

find_reuse runs it over batches of texts (on a local or Ray engine) in three passes, templates,
signatures, verification, so the corpus's shingles are never held at once (docs/scale.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from datasketch import LeanMinHash, MinHash, MinHashLSH

from compare.core.components import connected_components, union_groups
from compare.core.config import MinHashConfig
from compare.core.progress import StepClock
from compare.dedup.spill import KeyRows
from compare.dedup.evidence import CopyDetail, SharedSpan, cluster_credit, covered_words, own_ranges, sentence_diff, shared_spans
from compare.core.schema import CLUSTER_SCHEMA, conform, outlet_codes
from compare.core.timewindow import SECONDS_PER_DAY, timestamps, within
from compare.core.wires import WIRE_OUTLET_PATTERN
from compare.text.normalize import normalize_unicode

if TYPE_CHECKING:  # the engine protocol only; distributed never imports this module
    from compare.core.distributed import Engine



def _kernels():  # noqa: ANN202
    # numba compiles (or loads its cache) on first import: keep `compare --help` fast.
    from compare.dedup import minhash_kernels

    return minhash_kernels


@dataclass(frozen=True)
class ShingledTexts:
    """Words and word n-gram hashes of a batch of texts, flat with offsets: text d owns rows off[d]:off[d+1].

    Words are runs of word characters after lower-casing (punctuation, quotes and whitespace ignored);
    `word_starts`/`word_ends` are character offsets into the original text.
    """

    word_hashes: np.ndarray  # uint64, xxh64 of each lower-cased word
    word_starts: np.ndarray  # int32
    word_ends: np.ndarray  # int32
    doc_words: np.ndarray  # int64, n+1
    hashes: np.ndarray  # uint64, shingle i of a text starts at its word i
    doc_shingles: np.ndarray  # int64, n+1
    size: int

    def __len__(self) -> int:
        return self.doc_shingles.size - 1

    def sequence(self, doc: int) -> np.ndarray:
        return self.hashes[self.doc_shingles[doc] : self.doc_shingles[doc + 1]]

    def words(self, doc: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(self.doc_words[doc], self.doc_words[doc + 1])
        return self.word_starts[rows], self.word_ends[rows]

    def word_count(self, doc: int) -> int:
        return int(self.doc_words[doc + 1] - self.doc_words[doc])


def shingle_texts(texts: Sequence[str], size: int) -> ShingledTexts:
    """Shingle a batch of texts in one compiled pass (texts needing Unicode rules normalised first)."""
    kernels = _kernels()
    encoded = [text.encode("utf-8") for text in texts]
    data, offsets = _joined(encoded)
    unicode_rows = np.flatnonzero(kernels.needs_unicode(data, offsets)).tolist()
    if unicode_rows:
        for row, normalised in zip(unicode_rows, normalize_unicode([texts[row] for row in unicode_rows]), strict=True):
            encoded[row] = normalised.encode("utf-8")
        data, offsets = _joined(encoded)
    word_hashes, starts, ends, doc_words = kernels.word_hashes(data, offsets)
    hashes, doc_shingles = kernels.roll_shingles(word_hashes, doc_words, size)
    return ShingledTexts(word_hashes, starts, ends, doc_words, hashes, doc_shingles, size)


def _joined(encoded: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(chunk) for chunk in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8), offsets


def shingles(text: str, size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word n-grams of the normalised text (short texts: one shingle)."""
    return np.unique(shingle_texts([text], size).hashes)


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique hash arrays; 0.0 when both are empty."""
    if left.size == 0 and right.size == 0:
        return 0.0
    shared = np.intersect1d(left, right, assume_unique=True).size
    return shared / (left.size + right.size - shared)


def containment(part: np.ndarray, whole: np.ndarray) -> float:
    """Share of `part`'s shingles found in `whole`: high when a short copy sits inside a long article."""
    if part.size == 0:
        return 0.0
    return np.intersect1d(part, whole, assume_unique=True).size / part.size


# ---------------------------------------------------------------- signatures


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own affine32 permutation parameters (a, b) for this num_perm and seed."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


def signature_matrix(
    hashes: np.ndarray, starts: np.ndarray, stops: np.ndarray, num_perm: int, seed: int, keep: np.ndarray | None = None
) -> np.ndarray:
    """(ranges, num_perm) uint32 hash values of each shingle range, as datasketch computes them."""
    a, b = permutations(num_perm, seed)
    mask = np.ones(hashes.size, dtype=np.bool_) if keep is None else keep
    return _kernels().minhash_ranges(hashes, mask, np.asarray(starts, np.int64), np.asarray(stops, np.int64), a, b)


def lean_minhashes(matrix: np.ndarray, seed: int) -> list[LeanMinHash]:
    """Wrap signature rows as datasketch LeanMinHash objects (scheme affine32) without re-validating each."""
    result = []
    for row in matrix:
        lean = LeanMinHash.__new__(LeanMinHash)
        lean.seed, lean.scheme, lean.hashvalues = seed, "affine32", row
        result.append(lean)
    return result


def signatures(shingle_sets: Sequence[np.ndarray], config: MinHashConfig) -> list[LeanMinHash]:
    """Signatures of given shingle hash sets; equal to datasketch's `MinHash(num_perm, seed)` updated with
    each hash's 8 little-endian bytes under hashfunc `int.from_bytes(value[:4], "little")`."""
    lengths = np.array([s.size for s in shingle_sets], dtype=np.int64)
    stops = np.cumsum(lengths)
    flat = np.concatenate(shingle_sets).astype(np.uint64) if len(shingle_sets) else np.zeros(0, np.uint64)
    return lean_minhashes(signature_matrix(flat, stops - lengths, stops, config.num_perm, config.seed), config.seed)


# ---------------------------------------------------------------- page templates


def strip_templates(shingle_sets: list[np.ndarray], outlets: Sequence[str], min_articles: int) -> list[np.ndarray]:
    """Remove each outlet's page template: shingles found in `min_articles` or more of its articles.

    Scraped text often keeps an outlet's boilerplate (newsletter boxes, related links); in the Baly
    sample 33 of the 40 highest-containment pairs were one outlet's articles sharing only that.
    """
    lengths = np.array([s.size for s in shingle_sets], dtype=np.int64)
    flat = np.concatenate(shingle_sets) if int(lengths.sum()) else np.zeros(0, np.uint64)
    keep = _template_keep(flat, lengths, outlets, min_articles)
    stops = np.cumsum(lengths)
    return [flat[stop - length : stop][keep[stop - length : stop]] for stop, length in zip(stops, lengths, strict=True)]


# Shingles counted at once when looking for page templates: the count runs per slice of the key
# space, so its hash tables stay ~100 MB whatever the corpus (one pass over 7.6M shingles of 8,000
# AllSides articles peaked at 1.2 GB, 160 bytes a shingle).
TEMPLATE_PARTITION_ROWS = 2_000_000


def template_keys(hashes: np.ndarray, lengths: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per shingle: its hash mixed with its article's outlet code (`lengths` shingles per article), so
    the same shingle in two outlets counts apart."""
    with np.errstate(over="ignore"):
        return hashes ^ (np.repeat(codes + np.uint64(1), lengths) * np.uint64(0x9E3779B97F4A7C15))


def _template_keep(
    hashes: np.ndarray, lengths: np.ndarray, outlets: Sequence[str], min_articles: int, *, partition_rows: int = TEMPLATE_PARTITION_ROWS
) -> np.ndarray:
    if hashes.size == 0:
        return np.ones(0, dtype=np.bool_)
    keys = template_keys(hashes, lengths, outlet_codes(outlets))
    docs = np.repeat(np.arange(lengths.size, dtype=np.uint32), lengths)
    keep = np.ones(hashes.size, dtype=np.bool_)
    # A key's occurrences all fall in one slice (key mod parts), so each slice is counted alone, exactly.
    parts = max(1, -(-keys.size // max(1, partition_rows)))
    for part in range(parts):
        rows = np.flatnonzero(keys % np.uint64(parts) == np.uint64(part)) if parts > 1 else slice(None)
        frame = pl.DataFrame({"key": keys[rows], "doc": docs[rows]})
        # Occurrences bound articles from above: only keys seen min_articles times need the exact count.
        frequent = frame.group_by("key").len().filter(pl.col("len") >= min_articles).select("key")
        if frequent.height == 0:
            continue
        templates = (
            frame.join(frequent, on="key", how="semi").group_by("key").agg(pl.col("doc").n_unique().alias("articles"))
            .filter(pl.col("articles") >= min_articles)["key"]
        )
        keep[rows] = ~frame["key"].is_in(templates.implode()).to_numpy()
    return keep


def template_keep(shingled: ShingledTexts, outlets: Sequence[str], min_articles: int) -> np.ndarray:
    """Per shingle position: False where the shingle is its outlet's page template."""
    return _template_keep(shingled.hashes, np.diff(shingled.doc_shingles), outlets, min_articles)


# ---------------------------------------------------------------- candidates


def candidate_pairs(article_ids: Sequence[str], minhashes: Sequence[LeanMinHash], config: MinHashConfig) -> list[tuple[int, int]]:
    """Whole-article candidates from datasketch MinHashLSH at `lsh_threshold` (row indices, i < j)."""
    lsh = MinHashLSH(threshold=config.lsh_threshold, num_perm=config.num_perm)
    for index, minhash in enumerate(minhashes):
        lsh.insert(index, minhash, check_duplication=False)
    pairs: set[tuple[int, int]] = set()
    for index, minhash in enumerate(minhashes):
        for other in lsh.query(minhash):
            if other != index:
                pairs.add((min(index, other), max(index, other)))
    return sorted(pairs)


def passage_windows(doc_shingles: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc, start, stop) shingle ranges of overlapping windows; a text shorter than a window is one window."""
    counts = np.diff(doc_shingles)
    per_doc = np.where(counts > window, -(-(counts - window) // stride) + 1, (counts > 0).astype(np.int64))
    docs = np.repeat(np.arange(counts.size), per_doc)
    first = np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
    k = np.arange(docs.size) - first
    local = np.minimum(k * stride, np.maximum(counts[docs] - window, 0))
    starts = doc_shingles[docs] + local
    stops = np.minimum(starts + window, doc_shingles[docs + 1])
    return docs, starts, stops


@dataclass(frozen=True)
class ReuseSignatures:
    """MinHash signatures of shingled texts: one row per text (whole-article LSH) and one per passage window."""

    articles: np.ndarray  # uint32 (texts, num_perm)
    window_docs: np.ndarray  # int64, the text row each passage window belongs to
    windows: np.ndarray  # uint32 (windows, passage_bands * passage_rows); no rows when passages are off


def reuse_signatures(hashes: np.ndarray, keep: np.ndarray, doc_shingles: np.ndarray, config: MinHashConfig) -> ReuseSignatures:
    """The per-article part of find_reuse: every row depends on its own text only, so signing a batch of
    texts (their slice of `hashes`/`keep`, `doc_shingles` rebased to 0) gives the same rows as signing
    the corpus (sign_texts runs it per batch)."""
    articles = signature_matrix(hashes, doc_shingles[:-1], doc_shingles[1:], config.num_perm, config.seed, keep)
    return ReuseSignatures(articles, *passage_signatures(hashes, keep, doc_shingles, config))


def passage_signatures(hashes: np.ndarray, keep: np.ndarray, doc_shingles: np.ndarray, config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """(text row of each passage window, uint32 window signatures); none when passages are off."""
    perms = config.passage_bands * config.passage_rows
    if config.passage_shingles <= 0:
        return np.zeros(0, np.int64), np.zeros((0, perms), np.uint32)
    docs, starts, stops = passage_windows(doc_shingles, config.passage_shingles, max(1, config.passage_shingles // 2))
    if docs.size == 0:
        return docs.astype(np.int64), np.zeros((0, perms), np.uint32)
    return docs.astype(np.int64), signature_matrix(hashes, starts, stops, perms, config.seed, keep)




def band_keys(docs: np.ndarray, windows: np.ndarray, config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 key, uint32 text row) of each band of each passage window with a signature: texts
    sharing a key are passage candidates."""
    if docs.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint32)
    live = windows[:, 0] != np.uint32(0xFFFFFFFF)  # windows that are all template have no signature
    keys = _banded(windows[live], config.passage_bands, config.passage_rows)
    return keys.ravel(), np.repeat(docs[live].astype(np.uint32), config.passage_bands)


@lru_cache(maxsize=8)
def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) that datasketch's MinHashLSH chooses for this threshold (37 x 3 at 0.3 and 128)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def article_band_keys(articles: np.ndarray, config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 key, uint32 text row) of the whole-article LSH bands: texts sharing a key are the pairs
    datasketch's MinHashLSH at `lsh_threshold` gives (its bands and rows, a band's values hashed to 64
    bits), without its index of 11 KB per article. Texts with no shingle (an all-max row) can verify
    as nothing and are left out."""
    bands, rows = lsh_bands(config.lsh_threshold, config.num_perm)
    live = ~(articles == np.uint32(0xFFFFFFFF)).all(axis=1)
    keys = _banded(articles[live], bands, rows)
    return keys.ravel(), np.repeat(np.flatnonzero(live).astype(np.uint32), bands)


def _banded(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 (signatures, bands): each band's `rows` values hashed, with the band's number."""
    view = signatures[:, : bands * rows].reshape(-1, bands, rows)
    keys = np.zeros(view.shape[:2], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):  # one band row at a time: no uint64 copy of every signature
            keys = keys * np.uint64(0x100000001B3) + view[:, :, row].astype(np.uint64)
        return keys * np.uint64(0x9E3779B97F4A7C15) + np.arange(bands, dtype=np.uint64)


def _bucket_pairs(frame: pl.DataFrame, max_bucket: int, on: Sequence[str] = ("key",)) -> set[tuple[int, int]]:
    """Pairs of docs sharing a bucket (rows equal on `on`): all pairs in buckets up to `max_bucket`
    docs, a chain in larger ones."""
    on = list(on)
    frame = frame.select(*on, "doc").unique()
    frame = frame.filter(pl.len().over(on) >= 2)
    sizes = frame.group_by(on).len()
    small = frame.join(sizes.filter(pl.col("len") <= max_bucket).select(on), on=on, how="semi")
    pairs = (
        small.join(small, on=on, suffix="_other").filter(pl.col("doc") < pl.col("doc_other")).select("doc", "doc_other").unique()
    )
    found = {(int(i), int(j)) for i, j in pairs.iter_rows()}
    # A passage in very many articles (a wire story run by hundreds of outlets): all pairs would be
    # quadratic, so each article is paired with the bucket's first and next one, enough to connect them.
    large = frame.join(sizes.filter(pl.col("len") > max_bucket).select(on), on=on, how="semi")
    for docs_in_bucket in large.group_by(on).agg(pl.col("doc").sort())["doc"].to_list():
        first = docs_in_bucket[0]
        for previous, current in zip(docs_in_bucket, docs_in_bucket[1:], strict=False):
            found.add((previous, current))
            found.add((first, current))
    return found


_NO_CAP = 2**62  # a bucket size no corpus reaches: whole-article buckets are never chained
# Time slot of an undated text's band rows (dated texts have slots 0, 1, ...).
UNDATED_SLOT = -1


def time_slots(published: Sequence[datetime | None] | None, days: float, count: int) -> np.ndarray | None:
    """Per text, its time bucket (`days` wide, from the earliest date) or UNDATED_SLOT; None when
    there is no window (days <= 0 or no dates): every text then shares one slot."""
    if days <= 0 or published is None:
        return None
    stamps = timestamps(published)
    if count == 0 or np.isnan(stamps).all():
        return np.full(count, UNDATED_SLOT, dtype=np.int32)
    # a hair wider than the window, so two texts exactly `days` apart are never two buckets apart by rounding
    buckets = np.floor((stamps - np.nanmin(stamps)) / (days * SECONDS_PER_DAY * (1 + 1e-9)))
    return np.where(np.isnan(buckets), UNDATED_SLOT, np.nan_to_num(buckets)).astype(np.int32)


# An undated text meets the whole corpus, not a window of it, so the texts sharing one passage band key
# with it by chance grow with the corpus (on 64k synthetic articles 97% of its unverified candidates
# shared one key, its copies hundreds). Its passage candidates share at least this many keys.
UNDATED_MIN_PASSAGE_KEYS = 2


@dataclass(frozen=True)
class SlotPairs:
    """Candidates from a slice of band rows (slot_pairs): pairs of dated texts, and undated texts with
    the texts sharing keys with them, counted, since a pair's keys may lie in several slices."""

    dated: set[tuple[int, int]]
    undated: pl.DataFrame  # (doc, doc_other, keys): doc < doc_other, one of them undated; keys shared in the slice


_HIT_SCHEMA = {"doc": pl.UInt32, "doc_other": pl.UInt32, "keys": pl.UInt32}
_HITS_HELD = 1_000_000  # undated hit rows of key slices held before they are summed (12 bytes a row)


def slot_pairs(frame: pl.DataFrame, max_bucket: int) -> SlotPairs:
    """Candidates from band rows (key, slot: time bucket, doc; band_rows): texts sharing a key in the
    same or adjacent time buckets, and undated texts with every text sharing a key. Two texts within
    the window are at most one bucket apart, and texts months apart never meet (a key's bucket is no
    longer one capped chain across years)."""
    frame = frame.filter(pl.col("key").is_duplicated())  # most keys are one text's: dropped first, cheaply
    dated = frame.filter(pl.col("slot") != UNDATED_SLOT)
    # each dated row also stands in the next bucket's slot, so adjacent buckets share one
    doubled = pl.concat([dated, dated.with_columns(pl.col("slot") + 1)])
    return SlotPairs(_bucket_pairs(doubled, max_bucket, on=("key", "slot")), undated_hits(frame, max_bucket))


def undated_hits(frame: pl.DataFrame, max_bucket: int) -> pl.DataFrame:
    """(doc, doc_other, keys) of each undated text of the band rows with every text sharing a key with
    it, in any slot: undated x members, never all pairs of the key's texts (a key's texts across the
    corpus grow with it). In a key held by more than `max_bucket` texts, an undated text is paired
    with the key's first text and its neighbours only (the chain of _bucket_pairs)."""
    undated = frame.filter(pl.col("slot") == UNDATED_SLOT).select("key", "doc").unique()
    if undated.height == 0:
        return pl.DataFrame(schema=_HIT_SCHEMA)
    members = frame.join(undated.select("key").unique(), on="key", how="semi").select("key", "doc").unique()
    members = members.with_columns(pl.len().over("key").alias("size"))
    small = members.filter(pl.col("size") <= max_bucket).select("key", pl.col("doc").alias("doc_other"))
    everyone = undated.join(small, on="key")
    chain = (
        members.filter(pl.col("size") > max_bucket)
        .sort("key", "doc")
        .select(
            "key", "doc",
            pl.col("doc").shift(1).over("key").alias("previous"),
            pl.col("doc").shift(-1).over("key").alias("next"),
            pl.col("doc").first().over("key").alias("first"),
        )
        .join(undated, on=["key", "doc"], how="semi")
        .unpivot(index=["key", "doc"], on=["previous", "next", "first"], value_name="doc_other")
        .select("key", "doc", pl.col("doc_other").cast(pl.UInt32))
    )
    hits = pl.concat([everyone, chain]).filter(pl.col("doc_other").is_not_null() & (pl.col("doc") != pl.col("doc_other")))
    ordered = hits.select("key", pl.min_horizontal("doc", "doc_other").alias("doc"), pl.max_horizontal("doc", "doc_other").alias("doc_other")).unique()
    return ordered.group_by("doc", "doc_other").agg(pl.len().cast(pl.UInt32).alias("keys")).select(list(_HIT_SCHEMA))


def summed_hits(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Hit counts of the same pairs (undated_hits of several slices) added up."""
    return pl.concat(frames).group_by("doc", "doc_other").agg(pl.col("keys").sum()).select(list(_HIT_SCHEMA))


def hit_pairs(hits: pl.DataFrame, min_keys: int = 1) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in hits.filter(pl.col("keys") >= min_keys).select("doc", "doc_other").iter_rows()}


def pairs_in_window(pairs: Sequence[tuple[int, int]], published: Sequence[datetime | None] | None, days: float) -> list[tuple[int, int]]:
    """Pairs published at most `days` apart; undated articles pair with all; days <= 0: whole corpus."""
    if days <= 0 or published is None or not pairs:
        return list(pairs)
    stamps = timestamps(published)
    index = np.asarray(pairs, dtype=np.int64)
    ok = within(np.abs(stamps[index[:, 0]] - stamps[index[:, 1]]), days)
    return [pair for pair, fine in zip(pairs, ok.tolist(), strict=True) if fine]


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class CopyPair:
    """A verified pair with its evidence. kind "copy": near-duplicate (Jaccard or containment); "partial":
    the two share passages of at least min_span_words words but are otherwise different articles."""

    left: str
    right: str
    jaccard: float
    left_in_right: float = 0.0  # share of left's shingles found in right
    right_in_left: float = 0.0
    shared: int = 0  # shingles in common
    kind: str = "copy"
    spans: tuple[SharedSpan, ...] = ()


def is_copy(left: np.ndarray, right: np.ndarray, config: MinHashConfig) -> tuple[bool, float, float]:
    """(verdict, jaccard, containment of the smaller in the larger)."""
    score = jaccard(left, right)
    smaller, larger = (left, right) if left.size <= right.size else (right, left)
    contained = containment(smaller, larger)
    shared = round(contained * smaller.size)
    verdict = score >= config.min_jaccard or (contained >= config.min_containment and shared >= config.min_shared_shingles)
    return verdict, score, contained


def _verify(
    i: int, j: int, ids: Sequence[str], shingled: ShingledTexts, keep: np.ndarray, sets: dict[int, np.ndarray], config: MinHashConfig
) -> CopyPair | None:
    for doc in (i, j):
        if doc not in sets:
            rows = slice(shingled.doc_shingles[doc], shingled.doc_shingles[doc + 1])
            sets[doc] = np.unique(shingled.hashes[rows][keep[rows]])
    left, right = sets[i], sets[j]
    shared = np.intersect1d(left, right, assume_unique=True).size
    min_shared_for_span = max(1, config.min_span_words - config.shingle_size + 1)
    if shared == 0:
        return None
    copy, score, _ = is_copy(left, right, config)
    if not copy and shared < min_shared_for_span:
        return None
    rows_i = slice(shingled.doc_shingles[i], shingled.doc_shingles[i + 1])
    spans = shared_spans(
        shingled.sequence(i), shingled.sequence(j), shingled.words(i), shingled.words(j),
        shingle_size=config.shingle_size, min_words=min(config.min_span_words, 2 * config.shingle_size), left_keep=keep[rows_i],
    )
    if not copy and not any(span.words >= config.min_span_words for span in spans):
        return None
    # Coverage by shared passages survives edits that break shingles (5% of words changed removes
    # about a quarter of them): a cut wire with local paragraphs added is a copy by this rule.
    words_i, words_j = shingled.word_count(i), shingled.word_count(j)
    coverage = max(
        covered_words(spans, words_i) / words_i if words_i else 0.0,
        covered_words(spans, words_j, left=False) / words_j if words_j else 0.0,
    )
    copy = copy or (coverage >= config.min_coverage and shared >= config.min_shared_shingles)
    return CopyPair(
        ids[i], ids[j], score, shared / left.size if left.size else 0.0, shared / right.size if right.size else 0.0,
        int(shared), "copy" if copy else "partial", tuple(spans),
    )


# Key slices handed to a distributed engine at once (each up to PassLimits.partition_rows rows, about
# 32 MB); the local engine takes one at a time.
_SLICES_AT_ONCE = 4


@dataclass(frozen=True)
class PassLimits:
    """How much of a corpus find_reuse holds at once: its memory grows with these, and with the corpus
    only by a signature row (512 bytes), a passage band row per window when not spilled, and the
    candidate pairs."""

    articles_per_wave: int = 8192  # articles whose batch results (keys, signatures) are handed back together
    spill_rows: int = 8_000_000  # key rows held before they are written to Parquet (about 100-130 MB)
    partition_rows: int = TEMPLATE_PARTITION_ROWS  # key rows grouped at once
    pairs_per_batch: int = 512  # candidate pairs verified per engine batch (their texts travel with them: at most 2 x 512)


@dataclass(frozen=True)
class TextBatch:
    """Texts handed to a worker, with their outlet codes (outlet_codes) and the corpus row of texts[0]."""

    texts: list[str]
    codes: np.ndarray  # uint64, one per text
    first: int
    slots: np.ndarray | None = None  # time_slots of the texts; None: no window


def template_counts(config: MinHashConfig, batch: TextBatch) -> pl.DataFrame:
    """(key, articles): how many of the batch's texts hold each outlet-keyed shingle (template_keys).
    Batches hold different texts, so the sums over batches count articles (first pass of find_reuse)."""
    shingled = shingle_texts(batch.texts, config.shingle_size)
    lengths = np.diff(shingled.doc_shingles)
    keys = template_keys(shingled.hashes, lengths, batch.codes)
    docs = np.repeat(np.arange(len(batch.texts), dtype=np.uint32), lengths)
    # one numpy sort, not a polars group-by per batch (4x less CPU): a stable sort keeps each key's
    # texts in order, so a key seen twice in one text is two adjacent rows, counted once
    order = np.argsort(keys, kind="stable")
    keys, docs = keys[order], docs[order]
    first = np.ones(keys.size, dtype=np.bool_)
    first[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
    keys = keys[first]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if keys.size else np.zeros(0, np.int64)
    unique, articles = keys[starts], np.diff(np.append(starts, keys.size))
    return pl.DataFrame({"key": unique, "articles": articles.astype(np.uint32)}, schema={"key": pl.UInt64, "articles": pl.UInt32})


def _frequent_keys(counts: pl.DataFrame, min_articles: int) -> np.ndarray:
    """Keys whose per-batch article counts (template_counts rows of one key slice) sum to min_articles
    or more: the page templates (a numpy sort: a third less CPU than a polars group-by here)."""
    keys, articles = counts["key"].to_numpy(), counts["articles"].to_numpy()
    if keys.size == 0:
        return keys
    order = np.argsort(keys)
    keys, articles = keys[order], articles[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts][np.add.reduceat(articles, starts) >= min_articles]


def masked_shingles(texts: Sequence[str], codes: np.ndarray, templates: np.ndarray, size: int) -> tuple[ShingledTexts, np.ndarray]:
    """Shingled texts and, per shingle, False where it is its outlet's page template (`templates`:
    sorted template keys, as find_reuse's first pass found them)."""
    shingled = shingle_texts(texts, size)
    if templates.size == 0:
        return shingled, np.ones(shingled.hashes.size, dtype=np.bool_)
    keys = template_keys(shingled.hashes, np.diff(shingled.doc_shingles), codes)
    return shingled, ~is_template(keys, templates)


# Low bits of a key that index is_template's filter (4 MB of bools): a key whose slot no template
# holds is no template, so the sorted array is searched for few keys.
_FILTER_BITS = 22


def is_template(keys: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Per key: whether it is in `templates` (sorted). A binary search per shingle cost about half of
    signing at 256k articles, and more as the template array outgrew the CPU caches; keys are
    hashes, so their low bits pick a slot of a filter first and only keys in a template's slot are
    searched."""
    found = np.zeros(keys.size, dtype=np.bool_)
    if templates.size == 0 or keys.size == 0:
        return found
    mask = np.uint64((1 << _FILTER_BITS) - 1)
    slots = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)
    slots[templates & mask] = True
    maybe = np.flatnonzero(slots[keys & mask])
    at = np.minimum(np.searchsorted(templates, keys[maybe]), templates.size - 1)
    found[maybe] = templates[at] == keys[maybe]
    return found


@dataclass(frozen=True)
class SignedBatch:
    """A batch's band rows: texts sharing a key in a shared time slot are candidates (slot_pairs)."""

    whole: pl.DataFrame  # band_rows of the whole-article LSH bands (article_band_keys)
    passages: pl.DataFrame  # band_rows of the passage windows' bands (band_keys)


def sign_texts(config: MinHashConfig, templates: np.ndarray, batch: TextBatch) -> SignedBatch:
    """Second pass of find_reuse on one batch: shingle, mask templates, sign; only signatures and band
    keys come back (the shingles are made again for the candidate pairs at verification)."""
    shingled, keep = masked_shingles(batch.texts, batch.codes, templates, config.shingle_size)
    signed = reuse_signatures(shingled.hashes, keep, shingled.doc_shingles, config)
    return SignedBatch(
        band_rows(*article_band_keys(signed.articles, config), batch.slots, batch.first),
        band_rows(*band_keys(signed.window_docs, signed.windows, config), batch.slots, batch.first),
    )


def band_rows(keys: np.ndarray, docs: np.ndarray, slots: np.ndarray | None, first: int) -> pl.DataFrame:
    """(key, slot, doc: corpus row) rows of band keys (docs: rows of the batch) for slot_pairs: the
    slot is the text's time bucket, UNDATED_SLOT when undated, 0 for all when there is no window."""
    own = np.zeros(keys.size, np.int32) if slots is None else slots[docs]
    return pl.DataFrame({"key": keys, "slot": own, "doc": docs + np.uint32(first)}, schema={"key": pl.UInt64, "slot": pl.Int32, "doc": pl.UInt32})


@dataclass(frozen=True)
class PairBatch:
    """Candidate pairs handed to a worker: rows into its own `texts` (i < j, in corpus order)."""

    pairs: np.ndarray  # int64 (pairs, 2)
    ids: list[str]
    texts: list[str]
    codes: np.ndarray


def verify_pairs(config: MinHashConfig, templates: np.ndarray, batch: PairBatch) -> list[CopyPair | None]:
    """One result per pair of the batch, in its order: the verified pair on exact shingles,
    template-masked, with shared spans; None where the two share no reuse."""
    shingled, keep = masked_shingles(batch.texts, batch.codes, templates, config.shingle_size)
    sets: dict[int, np.ndarray] = {}
    return [_verify(i, j, batch.ids, shingled, keep, sets, config) for i, j in batch.pairs.tolist()]


def _text_batches(texts: Sequence[str], codes: np.ndarray, size: int, slots: np.ndarray | None = None) -> Iterator[TextBatch]:
    for first in range(0, len(texts), size):
        rows = slice(first, first + size)
        yield TextBatch(list(texts[rows]), codes[rows], first, None if slots is None else slots[rows])


def _pair_batches(
    pairs: np.ndarray, ids: Sequence[str] | pl.Series, texts: Sequence[str], codes: np.ndarray, size: int, per_wave: int,
    held: Mapping[int, str] | None = None,
) -> Iterator[PairBatch]:
    """Batches of `size` pairs with their texts, read a wave of `per_wave` batches at a time (batch by
    batch, scattered pairs re-read most of the corpus file's chunks for every batch); rows in `held`
    are not read again."""
    held = held or {}
    for start in range(0, len(pairs), size * per_wave):
        wave = pairs[start : start + size * per_wave]
        wanted = np.unique(wave)
        missing = [row for row in wanted.tolist() if row not in held]
        read = dict(zip(missing, _texts_at(texts, np.asarray(missing, dtype=np.int64)), strict=True))
        for first in range(0, len(wave), size):
            chunk = wave[first : first + size]
            rows = np.unique(chunk)
            names = ids.gather(rows).to_list() if isinstance(ids, pl.Series) else [ids[r] for r in rows.tolist()]
            batch_texts = [held[row] if row in held else read[row] for row in rows.tolist()]
            yield PairBatch(np.searchsorted(rows, chunk), names, batch_texts, codes[rows])


def _texts_at(texts: Sequence[str], rows: np.ndarray) -> list[str]:
    return texts.take(rows) if hasattr(texts, "take") else [texts[row] for row in rows.tolist()]


# Undated texts held at once while their pairs are verified (about 2.4 KB each on AllSides: ~160 MB).
UNDATED_TEXTS_HELD = 65_536


def verification_groups(pairs: np.ndarray, undated: np.ndarray | None, held_at_most: int = UNDATED_TEXTS_HELD) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions of pairs, rows to hold) in the order to verify `pairs` (rows i < j, sorted).

    Texts are read from the corpus file a chunk of rows at a time. Pairs of dated texts are days
    apart, so in row order a wave of them reads a few chunks. An undated text's partner lies anywhere:
    mixed in, they made every wave read the whole file (waves x chunks: N^2). So they come last, a
    group of up to `held_at_most` undated texts at a time, those texts held (read once) and their
    pairs in their partners' row order (each chunk read about once per group).
    """
    if undated is None or len(pairs) == 0:
        yield np.arange(len(pairs)), np.zeros(0, np.int64)
        return
    first_undated, second_undated = undated[pairs[:, 0]], undated[pairs[:, 1]]
    with_undated = first_undated | second_undated
    yield np.flatnonzero(~with_undated), np.zeros(0, np.int64)
    positions = np.flatnonzero(with_undated)
    own = np.where(first_undated[positions], pairs[positions, 0], pairs[positions, 1])  # the undated text (the first when both are)
    partner = np.where(first_undated[positions], pairs[positions, 1], pairs[positions, 0])
    texts = np.unique(own)
    for start in range(0, texts.size, held_at_most):
        group = texts[start : start + held_at_most]
        mine = np.isin(own, group)
        yield positions[mine][np.argsort(partner[mine], kind="stable")], group


def find_reuse(
    article_ids: Sequence[str] | pl.Series,
    texts: Sequence[str],
    outlets: Sequence[str] | pl.Series,
    config: MinHashConfig,
    published: Sequence[datetime | None] | pl.Series | None = None,
    *,
    engine: Engine | None = None,
    spill_dir: Path | None = None,
    limits: PassLimits = PassLimits(),
    clock: StepClock | None = None,
) -> list[CopyPair]:
    """Every verified pair, copies and partial reuse, each with its shared spans (left = earlier row).

    Three passes over batches of texts, so memory does not hold the corpus's shingles: count page
    templates; sign, keeping only the band keys of whole-article and passage-window signatures with
    each text's time slot (candidates: a shared key in the same or adjacent window-wide bucket);
    verify candidate pairs on shingles made again from their two texts. The batches run on `engine`
    (this process when None); key rows past `limits.spill_rows` (per kind) go to a temporary folder
    under `spill_dir` (the system's temporary folder when None), removed on return. The ids, outlets
    and dates may be polars columns (a build's: no Python object per article is made of them).
    `clock` gets the CPU seconds of each pass (benchmarks/scale.py gives each an exponent).
    """
    from compare.core.distributed import LocalEngine, in_waves

    engine = engine or LocalEngine()
    clock = clock or StepClock()
    codes = outlet_codes(outlets)
    per_wave = max(1, limits.articles_per_wave // max(1, engine.batch_size))
    with contextlib.ExitStack() as stack:

        @lru_cache(maxsize=1)
        def folder() -> Path:
            return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".dedup-keys-", dir=spill_dir)))

        with clock.step("templates"):
            counts = KeyRows(folder, spill_rows=limits.spill_rows)
            for found in in_waves(engine, partial(template_counts, config), _text_batches(texts, codes, engine.batch_size), per_wave):
                counts.add(found)
            # key slices are independent (all rows of a key in one): summed and grouped as engine batches
            slices_at_once = 1 if engine.name == "local" else _SLICES_AT_ONCE
            frequent = list(in_waves(engine, partial(_frequent_keys, min_articles=config.template_min_articles), counts.slices(limits.partition_rows), slices_at_once))
            counts.discard()
            templates = np.sort(np.concatenate(frequent)) if frequent else np.zeros(0, np.uint64)

        with clock.step("signing"):
            whole, passages = KeyRows(folder, spill_rows=limits.spill_rows), KeyRows(folder, spill_rows=limits.spill_rows)
            batches = _text_batches(texts, codes, engine.batch_size, time_slots(published, config.window_days, len(texts)))
            for signed in in_waves(engine, partial(sign_texts, config, templates), batches, per_wave):
                whole.add(signed.whole)
                passages.add(signed.passages)
        candidates: set[tuple[int, int]] = set()
        with clock.step("candidates_whole"):
            for found in in_waves(engine, partial(slot_pairs, max_bucket=_NO_CAP), whole.slices(limits.partition_rows), slices_at_once):
                candidates |= found.dated | hit_pairs(found.undated)  # MinHashLSH pairs every text of a bucket
            whole.discard()
        with clock.step("candidates_passages"):
            undated = [pl.DataFrame(schema=_HIT_SCHEMA)]
            for found in in_waves(engine, partial(slot_pairs, max_bucket=config.max_bucket), passages.slices(limits.partition_rows), slices_at_once):
                candidates |= found.dated
                undated.append(found.undated)
                if sum(frame.height for frame in undated[1:]) > undated[0].height + _HITS_HELD:  # summed when they double: linear
                    undated = [summed_hits(undated)]
            candidates |= hit_pairs(summed_hits(undated), UNDATED_MIN_PASSAGE_KEYS)
            passages.discard()

    with clock.step("window"):
        pairs = np.asarray(pairs_in_window(sorted(candidates), published, config.window_days), dtype=np.int64).reshape(-1, 2)
        del candidates
    with clock.step("verification"):
        pair_wave = max(1, limits.articles_per_wave // max(1, limits.pairs_per_batch))
        undated = None if published is None else np.isnan(timestamps(published))
        results: list[CopyPair | None] = [None] * len(pairs)
        for positions, held_rows in verification_groups(pairs, undated):
            held = dict(zip(held_rows.tolist(), _texts_at(texts, held_rows), strict=True))
            pair_batches = _pair_batches(pairs[positions], article_ids, texts, codes, limits.pairs_per_batch, pair_wave, held)
            found = (pair for batch in in_waves(engine, partial(verify_pairs, config, templates), pair_batches, pair_wave) for pair in batch)
            for position, pair in zip(positions.tolist(), found, strict=True):
                results[position] = pair
        verified = [pair for pair in results if pair is not None]  # in row order, whatever the order verified
    with clock.step("composites"):
        return settle_composites(verified, config)


def find_copy_pairs(
    article_ids: Sequence[str],
    texts: Sequence[str],
    outlets: Sequence[str],
    config: MinHashConfig,
    published: Sequence[datetime | None] | None = None,
) -> list[CopyPair]:
    """Verified near-duplicate pairs: Jaccard >= min_jaccard, or a long enough passage contained in the other."""
    return [pair for pair in find_reuse(article_ids, texts, outlets, config, published) if pair.kind == "copy"]


# ---------------------------------------------------------------- clusters


def _components(nodes: Sequence[str], pairs: Sequence[CopyPair]) -> list[list[str]]:
    groups = connected_components(nodes, ((pair.left, pair.right) for pair in pairs))
    return [members for members in groups if len(members) > 1]


_WIRE_OUTLETS = WIRE_OUTLET_PATTERN


def cluster_id(source_article_id: str) -> str:
    """Named after the probable source, so the id survives while that article stays in the cluster."""
    return "w-" + hashlib.blake2b(source_article_id.encode(), digest_size=5).hexdigest()


def _larger_side(pair: CopyPair) -> tuple[str, str, list[tuple[int, int]]]:
    """(larger article, smaller article, word ranges of the shared spans in the larger one)."""
    if pair.left_in_right <= pair.right_in_left:
        return pair.left, pair.right, [span.left_words for span in pair.spans]
    return pair.right, pair.left, [span.right_words for span in pair.spans]


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> float:
    """Share of the smaller word coverage that the other one covers too."""
    cover_a = {w for start, end in a for w in range(start, end)}
    cover_b = {w for start, end in b for w in range(start, end)}
    smaller = min(len(cover_a), len(cover_b))
    return len(cover_a & cover_b) / smaller if smaller else 0.0


def composite_articles(pairs: Sequence[CopyPair], config: MinHashConfig) -> set[str]:
    """Articles stitched from two unrelated sources: they carry a passage of one and another passage of the
    other, and the two sources are not copies of each other. Such an article must not join the clusters
    of both (a cut reprint of wire A and one of wire B would otherwise become one cluster through it)."""
    linked = {(pair.left, pair.right) for pair in pairs if pair.kind == "copy"}
    linked |= {(right, left) for left, right in linked}
    parts: dict[str, list[tuple[str, list[tuple[int, int]]]]] = {}
    for pair in pairs:
        if pair.jaccard >= config.min_jaccard:
            continue
        larger, smaller, ranges = _larger_side(pair)
        if sum(end - start for start, end in ranges) >= config.min_span_words:
            parts.setdefault(larger, []).append((smaller, ranges))
    composite = set()
    for article, sources in parts.items():
        for position, (first, first_ranges) in enumerate(sources):
            if any(
                (first, second) not in linked and _overlap(first_ranges, second_ranges) < 0.2
                for second, second_ranges in sources[position + 1 :]
            ):
                composite.add(article)
                break
    return composite


def settle_composites(pairs: Sequence[CopyPair], config: MinHashConfig) -> list[CopyPair]:
    """Copies by containment or coverage that touch a composite article (see composite_articles) become
    partial reuse: the stitched article is listed with both sources but joins neither cluster."""
    composite = composite_articles(pairs, config)
    if not composite:
        return list(pairs)
    return [
        replace(pair, kind="partial")
        if pair.kind == "copy" and pair.jaccard < config.min_jaccard and (pair.left in composite or pair.right in composite)
        else pair
        for pair in pairs
    ]


def clusters_from_pairs(articles: pl.DataFrame, pairs: Sequence[CopyPair], config: MinHashConfig, texts: Sequence[str] | None = None) -> pl.DataFrame:
    """CLUSTER_SCHEMA rows from verified copy pairs: connected components, earliest article as source."""
    copies = [pair for pair in pairs if pair.kind == "copy"]
    linked = {article_id for pair in copies for article_id in (pair.left, pair.right)}
    # the components of the linked articles only, in corpus order (an id list and union-find over
    # every article were about 200 bytes an article)
    nodes = articles["id"].filter(articles["id"].is_in(pl.Series(list(linked), dtype=pl.String).implode())).to_list()
    return clusters_from_groups(articles, _components(nodes, copies), config, texts)


# Member texts held at once while clusters are scored against their sources: the members of a
# large corpus's clusters (5% planted copies and their sources: 0.4 KB of text an article) are
# read a wave of clusters at a time.
_MEMBER_TEXTS_AT_ONCE = 16_384


def clusters_from_groups(articles: pl.DataFrame, groups: Sequence[Sequence[str]], config: MinHashConfig, texts: Sequence[str] | None = None) -> pl.DataFrame:
    """CLUSTER_SCHEMA rows for groups of article ids (of `articles`): the probable source first.
    `texts` are the articles' texts in row order when `articles` has no text column (a build's corpus).

    Shared by a full pass and by the incremental index build, so both name the same source.
    """
    groups = [list(group) for group in groups if len(group) > 1]
    if not groups:
        return pl.DataFrame(schema=CLUSTER_SCHEMA)
    members_of = pl.Series("members", [member for group in groups for member in group], dtype=pl.String)
    # Same publication time (many feeds give dates only): a wire agency's own article, then one
    # carrying a wire credit, is the more probable source.
    columns = articles.columns
    wire_outlet = pl.col("outlet").str.contains(_WIRE_OUTLETS).fill_null(False) if "outlet" in columns else pl.lit(False)
    credited = pl.col("wire_credit").is_not_null() if "wire_credit" in columns else pl.lit(False)
    order = (
        articles.with_row_index("row")
        .filter(pl.col("id").is_in(members_of.implode()))
        .select("id", "row", "published", (~wire_outlet).alias("not_wire"), (~credited).alias("no_credit"))
        .sort(["published", "not_wire", "no_credit", "id"], nulls_last=True)
    )
    rank = {article_id: position for position, article_id in enumerate(order["id"].to_list())}
    row_of = dict(zip(order["id"].to_list(), order["row"].to_list(), strict=True))
    for members in groups:
        members.sort(key=rank.__getitem__)
    scores: list[list[float]] = [[] for _ in groups]
    for wave in _group_waves(groups, row_of):
        rows = np.unique(np.asarray([row_of[member] for number in wave for member in groups[number]], dtype=np.int64))
        fetched = _texts_of(articles, texts, rows)
        text_of = {article_id: fetched[at] for at, article_id in enumerate(articles["id"].gather(rows).to_list())}
        for number in wave:
            sets = shingle_texts([text_of[member] for member in groups[number]], config.shingle_size)
            source_set = np.unique(sets.sequence(0))
            scores[number] = [1.0] + [jaccard(source_set, np.unique(sets.sequence(position))) for position in range(1, len(groups[number]))]
    rows_out = [
        (cluster_id(members[0]), member, position == 0, score)
        for members, group_scores in zip(groups, scores, strict=True)
        for position, (member, score) in enumerate(zip(members, group_scores, strict=True))
    ]
    return pl.DataFrame(rows_out, schema=CLUSTER_SCHEMA, orient="row")


def _group_waves(groups: Sequence[Sequence[str]], row_of: Mapping[str, int]) -> Iterator[list[int]]:
    """Group numbers in waves of about _MEMBER_TEXTS_AT_ONCE members, by their first row: copies are
    close in time, so a wave's texts lie in a few chunks of the corpus file."""
    by_row = sorted(range(len(groups)), key=lambda number: min(row_of[member] for member in groups[number]))
    wave: list[int] = []
    held = 0
    for number in by_row:
        wave.append(number)
        held += len(groups[number])
        if held >= _MEMBER_TEXTS_AT_ONCE:
            yield wave
            wave, held = [], 0
    if wave:
        yield wave


def _texts_of(articles: pl.DataFrame, texts: Sequence[str] | None, rows: np.ndarray) -> list[str]:
    """The texts of `rows` (ascending): from `texts` (ArticleTexts reads each chunk once) or the text column."""
    if texts is None:
        return articles["text"].gather(rows).to_list()
    return _texts_at(texts, rows)


def _published(articles: pl.DataFrame) -> list[datetime | None]:
    return articles["published"].to_list()


def cluster_copies(
    articles: pl.DataFrame, config: MinHashConfig, *, engine: Engine | None = None, spill_dir: Path | None = None, limits: PassLimits = PassLimits(),
    texts: Sequence[str] | None = None, clock: StepClock | None = None,
) -> pl.DataFrame:
    """CLUSTER_SCHEMA rows: each cluster's members, the earliest-published one marked as source
    (engine, spill_dir, limits, clock: as for find_reuse). `texts`: the articles' texts in row order when
    `articles` holds none (compare.core.store.ArticleTexts reads them in chunks as the passes walk the rows)."""
    texts = texts if texts is not None else articles["text"].to_list()
    clock = clock or StepClock()
    pairs = find_reuse(articles["id"], texts, articles["outlet"], config, articles["published"], engine=engine, spill_dir=spill_dir, limits=limits, clock=clock)
    with clock.step("clusters"):
        return clusters_from_pairs(articles, pairs, config, texts)


def copy_links(clusters: pl.DataFrame) -> list[tuple[str, str]]:
    """(source, copy) article id pairs of CLUSTER_SCHEMA rows: wire copies always share a story."""
    sources = clusters.filter(pl.col("is_source")).select("cluster_id", pl.col("article_id").alias("source_id"))
    members = clusters.filter(~pl.col("is_source")).join(sources, on="cluster_id")
    return list(members.select("source_id", "article_id").iter_rows())


# ---------------------------------------------------------------- incremental pass (a build on a previous snapshot)


# An incremental wire-copy pass is worth it only while the window around the new articles holds
# less than this share of the corpus; past it a full pass costs about the same and is exact.
INCREMENTAL_DEDUP_MAX_SHARE = 0.5
# Articles of each new article's outlet added to the incremental pass, so per-outlet page templates
# (dedup.template_min_articles) are still recognised when the window holds few of that outlet's articles.
TEMPLATE_SAMPLE = 25


def window_subset(articles: pl.DataFrame, new_ids: set[str], window_days: float) -> pl.DataFrame | None:
    """Articles that could be copies of a new one: published within the window of a new article, or
    undated (undated articles pair with any), plus a sample of each new article's outlet. None when a
    new article is undated (it may pair with anything) or the window is off."""
    new = articles.filter(pl.col("id").is_in(list(new_ids)))
    if window_days <= 0 or new["published"].null_count():
        return None
    stamps = np.sort(new["published"].dt.epoch("s").to_numpy().astype(np.float64))
    published = articles["published"].dt.epoch("s").to_numpy().astype(np.float64)  # NaN when undated
    position = np.searchsorted(stamps, np.nan_to_num(published))
    before = stamps[np.clip(position - 1, 0, len(stamps) - 1)]
    after = stamps[np.clip(position, 0, len(stamps) - 1)]
    near = within(np.minimum(np.abs(published - before), np.abs(published - after)), window_days)
    chosen = articles.filter(pl.Series(near) | pl.col("id").is_in(list(new_ids)))
    outlets = new["outlet"].unique().to_list()
    sample = (
        articles.filter(pl.col("outlet").is_in(outlets))
        .sort("published", descending=True, nulls_last=True)
        .group_by("outlet", maintain_order=True)
        .head(TEMPLATE_SAMPLE)
        .select(articles.columns)
    )
    return pl.concat([chosen, sample]).unique("id", keep="first", maintain_order=True)


def incremental_clusters(
    articles: pl.DataFrame, new_ids: set[str], previous: pl.DataFrame, config: MinHashConfig, *, engine: Engine | None = None,
    spill_dir: Path | None = None, with_text: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame | None:
    """Wire-copy clusters of the grown corpus without a full pass: copies of new articles are looked
    for among the articles within the dedup time window of them (a copy outside it is never reported,
    see MinHashConfig.window_days), and merged with the previous clusters. Clusters whose members did
    not change keep their rows. None when a full pass is needed (see window_subset).

    Links between old articles are taken from the previous snapshot as they were; `--full` re-derives
    them (e.g. after the dedup settings change). `with_text` adds the text column to rows of
    `articles` when it has none (a build's corpus: Corpus.with_text).
    """
    add_text = with_text or (lambda frame: frame)
    current = set(articles["id"].to_list())
    if not new_ids:
        kept = previous.filter(pl.col("article_id").is_in(list(current)))
        return kept if kept.height == previous.height else None
    subset = window_subset(articles, new_ids, config.window_days)
    if subset is None or subset.height > INCREMENTAL_DEDUP_MAX_SHARE * articles.height:
        return None
    found = cluster_copies(add_text(subset), config, engine=engine, spill_dir=spill_dir)
    touched = found.filter(pl.col("cluster_id").is_in(found.filter(pl.col("article_id").is_in(list(new_ids)))["cluster_id"].unique().to_list()))
    old = previous.filter(pl.col("article_id").is_in(list(current)))

    previous_sets = {frozenset(g["article_id"].to_list()): key for (key,), g in previous.group_by("cluster_id")}
    frames, changed = [], []
    for members in union_groups([old, touched], "cluster_id", pl.concat([old["article_id"], touched["article_id"]]).unique(maintain_order=True).to_list()):
        if len(members) < 2:
            continue
        unchanged = previous_sets.get(frozenset(members))
        if unchanged is not None:
            frames.append(previous.filter(pl.col("cluster_id") == unchanged))
        else:
            changed.append(members)
    frames.append(clusters_from_groups(add_text(articles.filter(pl.col("id").is_in([m for group in changed for m in group]))), changed, config))
    return conform(pl.concat([conform(frame, CLUSTER_SCHEMA) for frame in frames]), CLUSTER_SCHEMA)


# ---------------------------------------------------------------- explaining clusters


def describe_copy(source_text: str, copy_id: str, copy_text: str, config: MinHashConfig) -> CopyDetail:
    """Scores and evidence of one copy against its source, on the raw texts (no template masking)."""
    shingled = shingle_texts([copy_text, source_text], config.shingle_size)
    copy_set, source_set = np.unique(shingled.sequence(0)), np.unique(shingled.sequence(1))
    shared = np.intersect1d(copy_set, source_set, assume_unique=True).size
    spans = shared_spans(
        shingled.sequence(0), shingled.sequence(1), shingled.words(0), shingled.words(1),
        shingle_size=config.shingle_size, min_words=2 * config.shingle_size,
    )
    words = shingled.word_count(0)
    return CopyDetail(
        article_id=copy_id,
        jaccard=jaccard(copy_set, source_set),
        copy_in_source=shared / copy_set.size if copy_set.size else 0.0,
        source_in_copy=shared / source_set.size if source_set.size else 0.0,
        wire_share=covered_words(spans, words) / words if words else 0.0,
        spans=tuple(spans),
        own=tuple(own_ranges(spans, copy_text)),
        diff=sentence_diff(source_text, copy_text),
    )


def describe_copies(articles: pl.DataFrame, clusters: pl.DataFrame, config: MinHashConfig) -> dict[str, CopyDetail]:
    """Copy article id -> its evidence against its cluster's source (CLUSTER_SCHEMA rows of `articles`),
    for a listing made without a snapshot's stored evidence. A report's model of a cluster is report.WireCopy."""
    joined = clusters.join(articles.select("id", "text"), left_on="article_id", right_on="id")
    details: dict[str, CopyDetail] = {}
    for _, group in joined.group_by("cluster_id", maintain_order=True):
        source = group.filter(pl.col("is_source")).row(0, named=True)
        for row in group.filter(~pl.col("is_source")).iter_rows(named=True):
            details[row["article_id"]] = describe_copy(source["text"], row["article_id"], row["text"], config)
    return details


def copy_listing(
    articles: pl.DataFrame, clusters: pl.DataFrame, config: MinHashConfig | None = None, *, details: Mapping[str, CopyDetail] | None = None
) -> pl.DataFrame:
    """One row per cluster member with what a user needs to judge it, clusters with most outlets first.

    Columns: cluster_id, outlets (distinct outlets in the cluster), is_source, jaccard_to_source,
    copy_in_source, source_in_copy, wire_share, diff (sentences kept/changed/added/removed against
    the source), cluster_credit (the wire credit printed on the source, else on most members),
    id, outlet, url, title, published, wire_credit. `details` (copy article id -> CopyDetail, as a
    snapshot stores them) saves describing every copy again.
    """
    config = config or MinHashConfig()
    if details is None:
        details = describe_copies(articles, clusters, config)
    joined = clusters.join(articles, left_on="article_id", right_on="id").rename({"article_id": "id"})
    joined = joined.with_columns(pl.col("outlet").n_unique().over("cluster_id").cast(pl.Int32).alias("outlets"))
    credits = {
        cluster: cluster_credit(group.filter(pl.col("is_source"))["wire_credit"].first(), group["wire_credit"].to_list())
        for (cluster,), group in joined.group_by("cluster_id")
    }
    ids = joined["id"].to_list()

    def value(name: str, default: float | None) -> pl.Series:
        return pl.Series([round(getattr(details[i], name), 4) if i in details else default for i in ids], dtype=pl.Float64)

    joined = joined.with_columns(
        value("copy_in_source", 1.0).alias("copy_in_source"),
        value("source_in_copy", 1.0).alias("source_in_copy"),
        value("wire_share", 1.0).alias("wire_share"),
        pl.Series([details[i].diff.summary() if i in details else "source" for i in ids], dtype=pl.String).alias("diff"),
        pl.col("cluster_id").replace_strict(credits, default=None, return_dtype=pl.String).alias("cluster_credit"),
    )
    return joined.select(
        "cluster_id", "outlets", "is_source", pl.col("jaccard_to_source").round(4), "copy_in_source", "source_in_copy",
        "wire_share", "diff", "cluster_credit", "id", "outlet", "url", "title", "published", "wire_credit",
    ).sort(["outlets", "cluster_id", "is_source", "published"], descending=[True, False, True, False], nulls_last=True)


REUSE_COLUMNS = (
    "kind", "left_id", "left_outlet", "left_title", "left_published", "right_id", "right_outlet", "right_title",
    "right_published", "jaccard", "left_in_right", "right_in_left", "shared_words", "spans",
)


def reuse_listing(articles: pl.DataFrame, pairs: Sequence[CopyPair], *, partial_only: bool = True) -> pl.DataFrame:
    """One row per verified pair (partial reuse only by default), earlier article on the left.

    `spans` lists each shared passage as "left_start-left_end=right_start-right_end" character
    offsets into the two texts; shared_words counts the left article's words inside them.
    """
    info = {row["id"]: row for row in articles.select("id", "outlet", "title", "published").iter_rows(named=True)}
    rows = []
    for pair in pairs:
        if partial_only and pair.kind != "partial":
            continue
        left, right, spans = info[pair.left], info[pair.right], pair.spans
        l_in_r, r_in_l = pair.left_in_right, pair.right_in_left
        swap = (right["published"] is not None) and (left["published"] is None or right["published"] < left["published"])
        if swap:
            left, right, l_in_r, r_in_l = right, left, r_in_l, l_in_r
            spans = tuple(SharedSpan(s.right_words, s.left_words, s.right_chars, s.left_chars) for s in spans)
        rows.append(
            {
                "kind": pair.kind, "left_id": left["id"], "left_outlet": left["outlet"], "left_title": left["title"],
                "left_published": left["published"], "right_id": right["id"], "right_outlet": right["outlet"],
                "right_title": right["title"], "right_published": right["published"], "jaccard": round(pair.jaccard, 4),
                "left_in_right": round(l_in_r, 4), "right_in_left": round(r_in_l, 4),
                "shared_words": sum(s.words for s in spans),
                "spans": [f"{s.left_chars[0]}-{s.left_chars[1]}={s.right_chars[0]}-{s.right_chars[1]}" for s in spans],
            }
        )
    schema = {
        "kind": pl.String, "left_id": pl.String, "left_outlet": pl.String, "left_title": pl.String,
        "left_published": pl.Datetime("us", "UTC"), "right_id": pl.String, "right_outlet": pl.String,
        "right_title": pl.String, "right_published": pl.Datetime("us", "UTC"), "jaccard": pl.Float64,
        "left_in_right": pl.Float64, "right_in_left": pl.Float64, "shared_words": pl.Int64, "spans": pl.List(pl.String),
    }
    return pl.DataFrame(rows, schema=schema).sort("shared_words", descending=True)


def partial_reuse(articles: pl.DataFrame, config: MinHashConfig) -> pl.DataFrame:
    """reuse_listing of the partial reuse in a corpus (ARTICLE_SCHEMA frame), within the time window."""
    pairs = find_reuse(
        articles["id"].to_list(), articles["text"].to_list(), articles["outlet"].to_list(), config, _published(articles)
    )
    return reuse_listing(articles, pairs)

"""Articles grouped into stories: the same event covered by several outlets.

Two articles can only share a story when published within the time window (undated ones pair with
any). Similarity is the mean of two views: the title+lede embedding (what the story is about) and a
TF-IDF cosine of the whole text (shared names, places and rare words: the actors). Stories are
average-linkage clusters of that similarity, so one loose pair cannot chain two events together the
way connected components do. Wire copies (near-duplicates) always share a story.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from compare.core.components import union_groups
from compare.core.progress import StepClock
from compare.core.config import StoryConfig
from compare.core.schema import STORY_SCHEMA, outlet_codes
from compare.text.claims import lede, words
from compare.core.timewindow import column_timestamps, within
from compare.core.vectors import flat_search, window_search

if TYPE_CHECKING:
    from compare.core.distributed import Engine

STORY_TEXT_WORDS = 64
_TFIDF_DIMENSION = 1 << 18
# Frequent function words carry no story identity; TF-IDF would down-weight them anyway, but
# dropping them keeps short texts from matching on "the said" alone.
_STOPWORDS = frozenset(
    """the a an and or of to in on at for with by from as is was were be been are that this it its he she they
    his her their them said says not but have has had will would who which what when there than more about
    after before into over also up out new one two we you our i if no can could may might should just""".split()
)


def story_text(title: str | None, text: str) -> str:
    """What a story is recognised by: the headline and the first two claims, cut to 64 words.

    Scraped ledes can run to hundreds of words when sentence splitting fails on page junk; the cut
    keeps embedding cost per article bounded (MiniLM cost grows with sequence length).
    """
    combined = f"{title or ''}. {lede(text, 2)}".strip(". ")
    return " ".join(combined.split()[:STORY_TEXT_WORDS])


def story_id(member_ids: Sequence[str]) -> str:
    return _story_id_of(min(member_ids))


def _story_id_of(smallest_member: str) -> str:
    return "s-" + hashlib.blake2b(smallest_member.encode(), digest_size=5).hexdigest()


# IDF counts this many pseudo-documents that hold none of the words. Without them a home of a few
# articles about one story (a user comparing five takes on one event) gives every shared topic word
# IDF 0, and its TF-IDF cosines fall to ~0.05, splitting the story (3 of 8 gold BASIL triples in
# fresh homes were near or under the cut). 20 keeps BASIL's ARI (0.994) and PAC dev's (0.503 vs
# 0.493); it vanishes against the document count of a real corpus.
_IDF_PRIOR_DOCUMENTS = 20


def _content_words(text: str) -> Counter[str]:
    return Counter(w for w in words(text) if len(w) > 2 and w not in _STOPWORDS and not w.isdigit())


def content_word_counts(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per text: (64-bit keys, TF-IDF columns, counts) of its distinct content words, in order of
    first use; a plain function for engine batches (the tokenising is most of TF-IDF's cost). Kept
    compact (8 + 4 + 4 bytes a word): a build holds them for every article between its two passes."""
    import xxhash

    bags = []
    for text in texts:
        bag = _content_words(text)
        encoded = [word.encode() for word in bag]
        keys = np.fromiter((xxhash.xxh64_intdigest(word) for word in encoded), dtype=np.uint64, count=len(encoded))
        columns = np.fromiter((xxhash.xxh32_intdigest(word) % _TFIDF_DIMENSION for word in encoded), dtype=np.uint32, count=len(encoded))
        bags.append((keys, columns, np.fromiter(bag.values(), dtype=np.float32, count=len(encoded))))
    return bags


@dataclass(frozen=True)
class WordBags:
    """One batch of texts' content words, concatenated: what the second TF-IDF pass weighs."""

    keys: np.ndarray  # uint64 word hashes
    columns: np.ndarray  # uint32 TF-IDF columns
    counts: np.ndarray  # float32 counts in the text (exact: counts are small integers)
    lengths: np.ndarray  # int64 distinct words per text


def word_bags(texts: list[str]) -> WordBags:
    """content_word_counts of a batch as four arrays (no Python object per text is kept); a plain
    function for engine batches."""
    bags = content_word_counts(texts)
    lengths = np.fromiter((len(bag[0]) for bag in bags), dtype=np.int64, count=len(bags))
    if not lengths.sum():
        return WordBags(np.zeros(0, np.uint64), np.zeros(0, np.uint32), np.zeros(0, np.float32), lengths)
    return WordBags(*(np.concatenate([bag[part] for bag in bags]) for part in range(3)), lengths)


def _merge_frequencies(vocabulary: np.ndarray, frequency: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Document frequencies (per sorted word key) with one more batch's distinct (key, text) pairs added."""
    batch, counts = np.unique(keys, return_counts=True)
    merged, inverse = np.unique(np.concatenate([vocabulary, batch]), return_inverse=True)
    return merged, np.bincount(inverse, weights=np.concatenate([frequency, counts]), minlength=merged.size).astype(np.int64)


# Texts per TF-IDF batch without an engine (an engine uses its own batch size).
_TFIDF_ROWS = 256
# Words of the word bags held between the two TF-IDF passes (16 bytes each: 256 MB); the rest are
# written to a temporary folder and read back in order. About 460 words an article (AllSides):
# held whole, the bags were 7 KB an article, twice the TF-IDF rows themselves.
TFIDF_HELD_WORDS = 16_000_000


class _WordBagSpool:
    """Word bags in batch order: held up to `held_words` words, the later ones written as .npz files
    (no pickle) to a temporary folder under `spill_dir` (the system's when None), made on the first
    spill; `drain` gives them back in order, each file deleted once read."""

    def __init__(self, spill_dir: Path | None, held_words: int) -> None:
        self._spill_dir, self._held_words, self._held = spill_dir, held_words, 0
        self._bags: deque[WordBags | Path] = deque()
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def add(self, bag: WordBags) -> None:
        if self._held + bag.keys.size <= self._held_words:
            self._held += bag.keys.size
            self._bags.append(bag)
            return
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix=".tfidf-bags-", dir=self._spill_dir)
        path = Path(self._folder.name) / f"bags-{len(self._bags):07d}.npz"
        np.savez(path, keys=bag.keys, columns=bag.columns, counts=bag.counts, lengths=bag.lengths)
        self._bags.append(path)

    def drain(self) -> Iterator[WordBags]:
        try:
            while self._bags:
                item = self._bags.popleft()  # dropped as soon as it is handed out
                if isinstance(item, Path):
                    with np.load(item, allow_pickle=False) as stored:
                        bag = WordBags(stored["keys"], stored["columns"], stored["counts"], stored["lengths"])
                    item.unlink()
                    yield bag
                else:
                    yield item
        finally:
            self._bags.clear()
            if self._folder is not None:
                self._folder.cleanup()


def tfidf_rows(batches: Iterator[list[str]], total: int, *, engine: Engine | None = None, spill_dir: Path | None = None):  # noqa: ANN201 - scipy.sparse.csr_matrix
    """tfidf_vectors of texts given batch by batch (`total` texts in all): words counted per batch
    (engine batches, a wave of them at a time), kept as compact arrays (past TFIDF_HELD_WORDS on disk
    under `spill_dir`), then weighted batch by batch, so neither the texts, nor every word, nor a
    float64 copy of them is held at once."""
    from scipy import sparse

    bags = _WordBagSpool(spill_dir, TFIDF_HELD_WORDS)
    vocabulary, frequency = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    pending: list[list[str]] = []

    def count(wave: list[list[str]]) -> None:
        nonlocal vocabulary, frequency
        found = engine.map_batches(word_bags, wave) if engine is not None else [word_bags(texts) for texts in wave]
        for bag in found:
            bags.add(bag)
        keys = np.concatenate([bag.keys for bag in found]) if found else np.zeros(0, np.uint64)
        vocabulary, frequency = _merge_frequencies(vocabulary, frequency, keys)

    for batch in batches:
        pending.append(batch)
        if len(pending) == _batches_at_once(engine):
            count(pending)
            pending = []
    if pending:
        count(pending)
    rows_out = _TfidfRowWriter(spill_dir, TFIDF_HELD_WORDS)
    for bag in bags.drain():  # each batch's bag is dropped as soon as its rows are weighted
        rows = bag.lengths.size
        if not bag.keys.size:
            rows_out.add_empty(rows)
            continue
        document_frequency = frequency[np.searchsorted(vocabulary, bag.keys)]
        weights = (1 + np.log(bag.counts.astype(np.float64))) * np.log((1 + total + _IDF_PRIOR_DOCUMENTS) / (1 + document_frequency))
        own = np.repeat(np.arange(rows), bag.lengths)
        matrix = sparse.csr_matrix((weights, (own, bag.columns.astype(np.int64))), shape=(rows, _TFIDF_DIMENSION), dtype=np.float64)  # sums colliding words
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        rows_out.add((sparse.diags(1.0 / norms) @ matrix).astype(np.float32).tocsr())
    return rows_out.finish(total)


class _TfidfRowWriter:
    """TF-IDF rows as they are weighted, batch by batch: held up to `held_words` stored words (8 bytes
    each), then, with a `spill_dir`, all of them in two files there (SpilledRows), so the rows of a
    large corpus (about 3.7 KB an article) are on disk while stories are grouped."""

    def __init__(self, spill_dir: Path | None, held_words: int) -> None:
        self._spill_dir, self._held_words = spill_dir, held_words
        self._data: list[np.ndarray] = []
        self._indices: list[np.ndarray] = []
        self._row_lengths: list[np.ndarray] = []
        self._held = 0
        self._files: tuple[tempfile.TemporaryDirectory[str], Any, Any] | None = None

    def add_empty(self, rows: int) -> None:
        self._row_lengths.append(np.zeros(rows, np.int64))

    def add(self, block: Any) -> None:  # noqa: ANN401 - scipy.sparse.csr_matrix
        self._data.append(block.data)
        self._indices.append(block.indices.astype(np.int32, copy=False))
        self._row_lengths.append(np.diff(block.indptr).astype(np.int64))
        self._held += block.data.size
        if self._spill_dir is not None and self._held > self._held_words:
            self._flush()

    def _flush(self) -> None:
        if self._files is None:
            folder = tempfile.TemporaryDirectory(prefix=".tfidf-rows-", dir=self._spill_dir)
            self._files = (folder, open(Path(folder.name) / "data.f4", "wb"), open(Path(folder.name) / "indices.i4", "wb"))  # noqa: SIM115 - closed in finish()
        _, data, indices = self._files
        for part in self._data:
            data.write(np.ascontiguousarray(part, dtype="<f4").tobytes())
        for part in self._indices:
            indices.write(np.ascontiguousarray(part, dtype="<i4").tobytes())
        self._data.clear()
        self._indices.clear()
        self._held = 0

    def finish(self, total: int):  # noqa: ANN201 - scipy.sparse.csr_matrix or SpilledRows
        from scipy import sparse

        lengths = np.concatenate(self._row_lengths) if self._row_lengths else np.zeros(0, np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if self._files is not None:
            self._flush()
            folder, data, indices = self._files
            data.close()
            indices.close()
            return SpilledRows(folder, indptr, (total, _TFIDF_DIMENSION))
        if not self._data:
            return sparse.csr_matrix((total, _TFIDF_DIMENSION), dtype=np.float32)
        joined_data = np.concatenate(self._data)
        self._data.clear()
        joined_indices = np.concatenate(self._indices)
        self._indices.clear()
        return sparse.csr_matrix((joined_data, joined_indices, indptr), shape=(total, _TFIDF_DIMENSION))


class SpilledRows:
    """CSR rows whose data and column indices are files (row offsets held: 8 bytes a row); `rows[r]`
    for a list or array of row numbers reads just those rows (_gather), as a scipy csr_matrix: what
    story grouping asks of its TF-IDF rows. The folder goes with the object."""

    def __init__(self, folder: tempfile.TemporaryDirectory[str], indptr: np.ndarray, shape: tuple[int, int]) -> None:
        self._folder, self.indptr, self.shape = folder, indptr, shape

    def __getitem__(self, rows: Sequence[int] | np.ndarray):  # noqa: ANN204 - scipy.sparse.csr_matrix
        from scipy import sparse

        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        folder = Path(self._folder.name)
        data, indices = _gather(folder / "data.f4", "<f4", starts, lengths), _gather(folder / "indices.i4", "<i4", starts, lengths)
        return sparse.csr_matrix((data.astype(np.float32, copy=False), indices.astype(np.int32, copy=False), offsets), shape=(len(rows), self.shape[1]))


# Spans of a spilled file closer than this many values are read as one run (one pread).
_GATHER_GAP = 16_384


def _gather(path: Path, dtype: str, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The values of spans [start, start + length) of a flat file of `dtype`, concatenated in the order
    given, read as a few contiguous runs with pread. Not a memory map: a batch's rows are scattered,
    each page fault maps 64 KB around it, and mapped pages count in the process's RSS while mapped
    (candidate scoring at 128,000 articles peaked 450 MB above everything before it that way)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=dtype)
    itemsize = np.dtype(dtype).itemsize
    order = np.argsort(starts, kind="stable")
    low, high = starts[order], starts[order] + lengths[order]
    reach = np.maximum.accumulate(high)
    first_of_run = np.concatenate([[True], low[1:] > reach[:-1] + _GATHER_GAP])
    run_low = low[first_of_run]
    run_high = np.maximum.reduceat(high, np.flatnonzero(first_of_run))
    run_offset = np.concatenate([[0], np.cumsum(run_high - run_low)])
    with open(path, "rb") as handle:
        combined = np.concatenate([
            np.frombuffer(os.pread(handle.fileno(), int(stop - start) * itemsize, int(start) * itemsize), dtype=dtype)
            for start, stop in zip(run_low.tolist(), run_high.tolist(), strict=True)
        ])
    run_of = np.empty(len(starts), dtype=np.int64)
    run_of[order] = np.cumsum(first_of_run) - 1
    first = run_offset[run_of] + (starts - run_low[run_of])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return combined[np.arange(total) - np.repeat(offsets[:-1], lengths) + np.repeat(first, lengths)]


def tfidf_vectors(texts: Sequence[str], *, engine: Engine | None = None):  # noqa: ANN201 - scipy.sparse.csr_matrix
    """L2-normalised sublinear TF-IDF rows over hashed content words; IDF from `texts` themselves.

    Hashing (2**18 buckets) keeps memory flat on large corpora; collisions are rare at that size.
    Words are counted per text as `engine` batches (in this process without one); document
    frequencies are per word (a 64-bit hash of it) and the weights are computed here, in numpy,
    so every engine gives the same rows.
    """
    size = engine.batch_size if engine is not None else _TFIDF_ROWS
    return tfidf_rows((list(texts[start : start + size]) for start in range(0, len(texts), size)), len(texts), engine=engine)


def article_tfidf(
    articles: pl.DataFrame, *, engine: Engine | None = None, texts: Sequence[str] | None = None, spill_dir: Path | None = None
):  # noqa: ANN201 - scipy.sparse.csr_matrix
    """tfidf_vectors of each article's "title. text", the joined texts made one batch at a time;
    `texts` in row order when `articles` has no text column (compare.core.store.ArticleTexts);
    word bags past TFIDF_HELD_WORDS go to a temporary folder under `spill_dir`."""
    size = engine.batch_size if engine is not None else _TFIDF_ROWS
    titles = articles["title"] if "title" in articles.columns else pl.Series("title", [None] * articles.height, dtype=pl.String)
    column = articles["text"].fill_null("") if texts is None else None

    def batches() -> Iterator[list[str]]:
        # titles and texts taken a batch at a time: as Python lists they were 100+ bytes an article for the whole pass
        for start in range(0, articles.height, size):
            batch_texts = column[start : start + size].to_list() if column is not None else texts[start : start + size]  # type: ignore[index]
            batch_titles = titles[start : start + size].to_list()
            yield [f"{title or ''}. {text or ''}" for title, text in zip(batch_titles, batch_texts, strict=True)]

    return tfidf_rows(batches(), articles.height, engine=engine, spill_dir=spill_dir)


def _neighbours(
    vectors: np.ndarray, stamps: np.ndarray, config: StoryConfig, engine: Engine | None, crawled: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each article's config.neighbours most similar articles inside the story window (vectors.window_search:
    time buckets, not all against all, so grouping stays linear in the corpus; the buckets as `engine` batches).
    `stamps`: publication times (column_timestamps). With config.undated_days and `crawled` (ingest
    times), an undated article stands in the middle of the span before its ingest date, uncertain by
    half of it (window_search's slack)."""
    if config.undated_days <= 0 or crawled is None:
        return window_search(vectors, stamps, config.window_days, config.neighbours, engine=engine)
    half = config.undated_days * 86400.0 / 2
    stand_in = np.isnan(stamps) & ~np.isnan(crawled)
    slack = np.where(stand_in, half, 0.0)
    stamps = np.where(stand_in, crawled - half, stamps)
    return window_search(vectors, stamps, config.window_days, config.neighbours, engine=engine, slack=slack)


def _average_linkage(similarity: np.ndarray, allowed: np.ndarray, outlets: np.ndarray | None, config: StoryConfig) -> list[int]:
    """Cluster labels for one block: average linkage cut at min_similarity.

    Pairs outside the time window get similarity -1, so a cluster can only absorb them if its
    average stays above the cut (it never does in practice). Mutual nearest neighbours of
    different outlets above mutual_floor are merged first: two outlets' takes on one event often
    share few words (opinion vs report), yet each is still the other's best match.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    size = len(similarity)
    if size == 1:
        return [1]
    similarity = np.where(allowed, similarity, -1.0)
    if outlets is not None:
        candidates = similarity.copy()
        np.fill_diagonal(candidates, -np.inf)
        same_outlet = np.equal.outer(outlets, outlets)
        candidates[same_outlet] = -np.inf
        best = candidates.argmax(axis=1)
        for row in range(size):
            other = int(best[row])
            if best[other] == row and candidates[row, other] >= config.mutual_floor:
                similarity[row, other] = similarity[other, row] = 1.0
    distance = np.clip(1.0 - (similarity + similarity.T) / 2, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return [int(label) for label in fcluster(tree, 1.0 - config.min_similarity, criterion="distance")]


def group_stories(
    articles: pl.DataFrame,
    vectors: np.ndarray,
    copy_links: Sequence[tuple[str, str]],
    config: StoryConfig,
    *,
    method: str | None = None,
    engine: Engine | None = None,
    texts: Sequence[str] | None = None,
    spill_dir: Path | None = None,
    clock: StepClock | None = None,
) -> pl.DataFrame:
    """STORY_SCHEMA rows for every article (an article with no link is a story of its own).

    `vectors` are L2-normalised story_text embeddings in the row order of `articles`. The TF-IDF
    view needs the texts, a `text` column or `texts` in row order (and uses `title`); without
    them only the embeddings count. `spill_dir`: where TF-IDF's word bags go past TFIDF_HELD_WORDS. `method`
    overrides config.method ("average" or "components"). The neighbour search, TF-IDF word counts,
    candidate scoring and average-linkage blocks run as `engine` batches (compare.core.distributed;
    in this process without one): the same stories either way. Links are kept as row-number arrays
    and joined by scipy's connected components: no Python object per article (a dict union-find,
    the article ids and dates as Python lists were about 1 KB an article). `clock` gets the CPU
    seconds of each step (tfidf, neighbours, candidate_scores, blocks, clustering, components).
    """
    clock = clock or StepClock()
    method = method or config.method
    if method not in ("average", "components"):
        raise ValueError(f"stories.method: unknown method '{method}' (known: average, components)")
    size = articles.height
    stamps = column_timestamps(articles["published"])
    crawled = column_timestamps(articles["ingested_at"]) if "ingested_at" in articles.columns else None
    links = _Links()
    if size > 1 and method == "components":
        with clock.step("neighbours"):
            similarities, neighbours = _neighbours(vectors, stamps, config, engine, crawled)
        for start in range(0, size, _ROWS_AT_ONCE):
            found, scores = neighbours[start : start + _ROWS_AT_ONCE], similarities[start : start + _ROWS_AT_ONCE]
            rows = np.arange(start, start + len(found))[:, None]
            others = np.where(found >= 0, found, rows)
            linked = (found >= 0) & (found != rows) & (scores >= config.min_similarity) & within(np.abs(stamps[rows] - stamps[others]), config.window_days)
            links.add(np.broadcast_to(rows, found.shape)[linked], found[linked])
    elif size > 1:
        _average_groups(articles, vectors, stamps, crawled, config, links, engine, texts, spill_dir, clock)
    if copy_links:
        row_of = articles.select(pl.col("id"), pl.int_range(pl.len(), dtype=pl.Int64).alias("row"))
        pairs = pl.DataFrame(list(copy_links), schema={"left": pl.String, "right": pl.String}, orient="row")
        pairs = pairs.join(row_of, left_on="left", right_on="id").join(row_of, left_on="right", right_on="id", suffix="_right")
        links.add(pairs["row"].to_numpy(), pairs["row_right"].to_numpy())
    with clock.step("components"):
        labels = links.components(size)
    grouped = (
        articles.select(pl.col("id").alias("article_id"), pl.Series("group", labels), pl.int_range(pl.len(), dtype=pl.Int64).alias("row"))
        .with_columns(pl.col("row").min().over("group").alias("first"), pl.col("article_id").min().over("group").alias("smallest"))
        .sort("first", "row")
    )
    names = grouped["smallest"].unique()
    ids = pl.DataFrame({"smallest": names, "story_id": [_story_id_of(name) for name in names.to_list()]}, schema={"smallest": pl.String, "story_id": pl.String})
    return grouped.join(ids, on="smallest", how="left", maintain_order="left").select(list(STORY_SCHEMA))


# Rows of the (articles, neighbours) matrices worked on at once: their float64 temporaries stay
# a few MB however large the corpus.
_ROWS_AT_ONCE = 65_536


class _Links:
    """Pairs of row numbers to join, kept as two int64 arrays that grow (16 bytes a link)."""

    def __init__(self) -> None:
        self._left, self._right = array("q"), array("q")

    def add(self, left: np.ndarray, right: np.ndarray) -> None:
        self._left.frombytes(np.ascontiguousarray(left, dtype=np.int64).tobytes())
        self._right.frombytes(np.ascontiguousarray(right, dtype=np.int64).tobytes())

    def components(self, size: int) -> np.ndarray:
        """A component number per row (rows linked directly or through others share one)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        left, right = np.frombuffer(self._left, dtype=np.int64), np.frombuffer(self._right, dtype=np.int64)
        graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(size, size)).tocsr()
        return connected_components(graph, directed=False)[1].astype(np.int64)


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    """Rows of each component of two or more, members ascending, components by their first member."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_labels[1:] != sorted_labels[:-1]]))
    groups = [group for group in np.split(order, starts[1:]) if len(group) > 1]
    groups.sort(key=lambda group: int(group[0]))
    return groups


def _average_groups(
    articles: pl.DataFrame, vectors: np.ndarray, stamps: np.ndarray, crawled: np.ndarray | None, config: StoryConfig, links: _Links,
    engine: Engine | None, full_texts: Sequence[str] | None, spill_dir: Path | None, clock: StepClock,
) -> None:
    """Add to `links` the average-linkage clusters, block by block.

    Blocks are connected components of candidate pairs (FAISS neighbours within the window whose
    combined similarity reaches mutual_floor), so exact clustering only runs on small dense blocks.
    """
    texts = None
    if full_texts is not None or "text" in articles.columns:
        with clock.step("tfidf"):
            texts = article_tfidf(articles, engine=engine, texts=full_texts, spill_dir=spill_dir)
    outlets = outlet_codes(articles["outlet"]) if "outlet" in articles.columns else None

    def combined(rows: Sequence[int], others: Sequence[int]) -> np.ndarray:
        dense = vectors[list(rows)] @ vectors[list(others)].T
        if texts is None:
            return dense
        sparse_part = (texts[list(rows)] @ texts[list(others)].T).toarray()
        return (dense + sparse_part) / 2

    with clock.step("neighbours"):
        _, neighbours = _neighbours(vectors, stamps, config, engine, crawled)
    candidates = Candidates.of(neighbours)
    with clock.step("candidate_scores"):
        scored = _candidate_scores(vectors, texts, candidates, stamps, engine)
    with clock.step("blocks"):
        blocks = _groups(candidate_blocks(stamps, candidates, scored, config).components(len(stamps)))
    del scored
    with clock.step("clustering"):
        clustered = []
        for block in blocks:
            if len(block) > config.max_block:
                in_block = set(block.tolist())
                for row in block.tolist():  # too large for exact clustering: fall back to links at the cut
                    for other, score in zip(neighbours[row].tolist(), combined([row], neighbours[row].tolist())[0], strict=True):
                        if other in in_block and other != row and score >= config.min_similarity:
                            links.add(np.array([row]), np.array([other]))
                continue
            clustered.append(block)
        for block, labels in zip(clustered, _block_labels(clustered, vectors, texts, stamps, outlets, config, engine), strict=True):
            _, first, inverse = np.unique(np.asarray(labels), return_index=True, return_inverse=True)
            links.add(block, block[first[inverse]])


@dataclass(frozen=True)
class Candidates:
    """Each article's candidate pairs: its neighbours (rows, k per article, -1 when fewer) less itself
    and the missing ones. Kept as the neighbour matrix and a mask, not an array per article: two
    million small arrays and a dict of them were about 500 bytes an article (0.5 GB at a million)."""

    rows: np.ndarray  # int64 (articles, k)
    valid: np.ndarray  # bool (articles, k)

    @classmethod
    def of(cls, neighbours: np.ndarray) -> Candidates:
        return cls(neighbours, (neighbours >= 0) & (neighbours != np.arange(len(neighbours))[:, None]))

    def __getitem__(self, row: int) -> np.ndarray:
        """Article `row`'s candidates, in neighbour order."""
        return self.rows[row][self.valid[row]]


def candidate_blocks(stamps: np.ndarray, candidates: Candidates, scored: np.ndarray, config: StoryConfig) -> _Links:
    """Links that make the blocks for exact clustering: dated articles joined by every candidate pair
    at the floor inside the window; an undated article (NaN in `stamps`) joins only the block of its
    best candidate at the floor (the last of equal bests). `scored` holds each candidate's combined
    similarity where candidates.valid (_candidate_scores).

    An undated article may pair with any article, so letting all its pairs join blocks bridged
    years of coverage: on the 9,389-article AllSides sample one block held 8,622 articles (dated
    pairs alone: at most 97), too large to cluster exactly, and its fallback chained 2,905 articles
    from 2012 to 2020 into one story. With one link each, undated articles hang from one block
    and never bridge two.
    """
    floor = min(config.mutual_floor, config.min_similarity)
    undated = np.isnan(stamps)
    links = _Links()
    for start in range(0, len(stamps), _ROWS_AT_ONCE):
        stop = min(start + _ROWS_AT_ONCE, len(stamps))
        valid, found = candidates.valid[start:stop], candidates.rows[start:stop]
        others = np.where(valid, found, 0)
        rows = np.arange(start, stop)[:, None]
        with np.errstate(invalid="ignore"):
            reached = valid & (scored[start:stop] >= floor)
        dated = reached & ~undated[rows] & ~undated[others] & within(np.abs(stamps[rows] - stamps[others]), config.window_days)
        links.add(np.broadcast_to(rows, found.shape)[dated], found[dated])
        best_of = np.where(reached & undated[rows], scored[start:stop], -np.inf)[:, ::-1]
        last_best = best_of.shape[1] - 1 - np.argmax(best_of, axis=1)
        hanging = np.flatnonzero(np.isfinite(best_of.max(axis=1)))
        links.add(start + hanging, found[hanging, last_best[hanging]])
    return links


@dataclass(frozen=True)
class CandidateRows:
    """Articles whose candidate pairs one engine task scores, self-contained: `rows` (global row
    numbers) and the vectors and TF-IDF rows (None: embeddings only) of the members (these articles
    and all their candidates); `own[i]` is article i's position among the members, `others[i]` its
    candidates' positions."""

    rows: np.ndarray
    own: np.ndarray
    others: list[np.ndarray]
    vectors: np.ndarray
    texts: Any  # scipy.sparse.csr_matrix or None


def score_candidates(batch: CandidateRows) -> list[np.ndarray]:
    """The combined similarity (mean of embedding and TF-IDF cosine) of each article with each of its
    candidates, computed as the in-process loop did (same operations, same values); a plain
    function for engine batches."""
    scores = []
    for position, others in zip(batch.own.tolist(), batch.others, strict=True):
        dense = batch.vectors[[position]] @ batch.vectors[others].T
        if batch.texts is not None:
            dense = (dense + (batch.texts[[position]] @ batch.texts[others].T).toarray()) / 2
        scores.append(dense[0])
    return scores


# Articles per candidate-scoring batch without an engine (an engine uses its own batch size), and
# batches handed over at once: each batch copies its articles' and their candidates' vectors and
# TF-IDF rows, so the copies in memory stay bounded.
_CANDIDATE_ROWS = 256
_CANDIDATE_BATCHES_AT_ONCE = 64


def _batches_at_once(engine: Engine | None) -> int:
    """Batches handed over at once: enough to keep a distributed engine's workers busy; one in this
    process (more would only hold more copies: 64 batches of candidate rows were 790 MB at 32,000 articles)."""
    return 1 if engine is None or engine.name == "local" else _CANDIDATE_BATCHES_AT_ONCE


def _candidate_scores(vectors: np.ndarray, texts: Any, candidates: Candidates, stamps: np.ndarray, engine: Engine | None) -> np.ndarray:
    """Each article's combined similarity with its candidates, (articles, k) aligned with
    candidates.rows (NaN where not valid), as `engine` batches of articles close in time (their
    candidates are mostly the same articles, so a batch ships few extra rows)."""
    has = candidates.valid.any(axis=1)
    order = np.argsort(np.where(np.isnan(stamps), np.inf, stamps), kind="stable")
    order = order[has[order]]
    size = engine.batch_size if engine is not None else _CANDIDATE_ROWS
    scored = np.full(candidates.rows.shape, np.nan, dtype=np.float64)  # float64: the scores as computed, so the floor cuts as before
    step = size * _batches_at_once(engine)
    for start in range(0, len(order), step):
        batches = []
        for at in range(start, min(start + step, len(order)), size):
            rows = order[at : at + size].astype(np.int64)
            members = np.unique(np.concatenate([rows, candidates.rows[rows][candidates.valid[rows]]]))
            others = [np.searchsorted(members, candidates[row]) for row in rows.tolist()]
            batches.append(CandidateRows(rows, np.searchsorted(members, rows), others, vectors[members], texts[members] if texts is not None else None))
        parts = engine.map_batches(score_candidates, batches) if engine is not None else [score_candidates(batch) for batch in batches]
        for batch, part in zip(batches, parts, strict=True):
            for row, scores in zip(batch.rows.tolist(), part, strict=True):
                scored[row, candidates.valid[row]] = scores
    return scored


@dataclass(frozen=True)
class StoryBlock:
    """One block of candidate-linked articles, self-contained for an engine task: their vectors,
    TF-IDF rows (None: embeddings only), publication times (column_timestamps) and outlet codes
    (None: unknown)."""

    vectors: np.ndarray
    texts: Any  # scipy.sparse.csr_matrix or None
    stamps: np.ndarray
    outlets: np.ndarray | None


def cluster_blocks(config: StoryConfig, blocks: list[StoryBlock]) -> list[list[int]]:
    """Average-linkage labels of each block's articles (_average_linkage on the combined similarity,
    computed as the in-process code did); a plain function for engine batches."""
    labels = []
    for block in blocks:
        similarity = block.vectors @ block.vectors.T
        if block.texts is not None:
            similarity = (similarity + (block.texts @ block.texts.T).toarray()) / 2
        allowed = within(np.abs(block.stamps[:, None] - block.stamps[None, :]), config.window_days)
        labels.append(_average_linkage(similarity, allowed, block.outlets, config))
    return labels


def _block_labels(
    blocks: list[np.ndarray], vectors: np.ndarray, texts: Any, stamps: np.ndarray, outlets: np.ndarray | None, config: StoryConfig, engine: Engine | None
) -> list[list[int]]:
    """cluster_blocks over `blocks` (global rows), as engine batches of about the engine's batch size in articles."""
    from functools import partial

    size = engine.batch_size if engine is not None else _CANDIDATE_ROWS
    cluster = partial(cluster_blocks, config)
    labels: list[list[int]] = []
    batch: list[StoryBlock] = []
    batches: list[list[StoryBlock]] = []
    rows = 0

    def flush() -> None:
        parts = engine.map_batches(cluster, batches) if engine is not None else [cluster(part) for part in batches]
        labels.extend(label for part in parts for label in part)
        batches.clear()

    for block in blocks:
        batch.append(StoryBlock(
            vectors[block], texts[block] if texts is not None else None, stamps[block], outlets[block] if outlets is not None else None,
        ))
        rows += len(block)
        if rows >= size:
            batches.append(batch)
            batch, rows = [], 0
            if len(batches) == _batches_at_once(engine):
                flush()
    if batch:
        batches.append(batch)
    if batches:
        flush()
    return labels


# An incremental pass pays only while the neighbourhood of the new articles is this share of the
# corpus or less; past it regrouping everything costs about the same and is exact.
INCREMENTAL_MAX_SHARE = 0.5


def incremental_stories(
    articles: pl.DataFrame, vectors: np.ndarray, new_ids: set[str], previous: pl.DataFrame, copy_links: Sequence[tuple[str, str]], config: StoryConfig,
    *, with_text: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame | None:
    """Stories of the grown corpus without regrouping everything: each new article is grouped (by
    stories.group_stories) with its nearest neighbours inside the story window, and the groups holding
    a new article are merged into the previous stories (a new article that joins a neighbour joins
    that neighbour's story). Old stories never split here; `--full` regroups everything. None when the
    neighbourhood covers too much of the corpus for this to pay off. `with_text` adds the text column
    to rows of `articles` when it has none (a build's corpus: Corpus.with_text).
    """
    ids = articles["id"].to_list()
    current = set(ids)
    old = previous.filter(pl.col("article_id").is_in(list(current)))
    if not new_ids:
        return old if old.height == len(ids) else None
    new_rows = [row for row, article_id in enumerate(ids) if article_id in new_ids]
    similarities, neighbours = flat_search(vectors, vectors[new_rows], min(len(ids), config.neighbours + 1))
    published = articles["published"].dt.epoch("s").to_numpy().astype(np.float64)  # NaN when undated
    # group_stories links on (embedding + tf-idf) / 2 >= floor, so with tf-idf <= 1 an embedding
    # similarity below 2 * floor - 1 can never link: such neighbours need not be looked at.
    floor = min(config.min_similarity, config.mutual_floor)
    bound = 2 * floor - 1
    seeds = set(new_rows)
    for row, found, scores in zip(new_rows, neighbours, similarities, strict=True):
        for other, score in zip(found, scores, strict=True):
            near = bool(within(np.abs(published[row] - published[other]), config.window_days))
            if other >= 0 and score >= bound and near:
                seeds.add(int(other))
    members = {ids[row] for row in seeds}
    if len(members) > INCREMENTAL_MAX_SHARE * len(ids):
        return None
    rows = [row for row, article_id in enumerate(ids) if article_id in members]
    subset = with_text(articles[rows]) if with_text is not None else articles[rows]
    links = [(a, b) for a, b in copy_links if a in members and b in members]
    found = group_stories(subset, vectors[rows], links, config)
    touched = found.filter(pl.col("story_id").is_in(found.filter(pl.col("article_id").is_in(list(new_ids)))["story_id"].unique().to_list()))
    groups = union_groups([old, touched], "story_id", ids)
    records = [(story_id(group), article_id) for group in groups for article_id in group]
    return pl.DataFrame(records, schema=STORY_SCHEMA, orient="row")

"""What a build holds for the whole corpus and what it reads from disk: the corpus's texts in chunks
(compare.core.store.ArticleTexts), the claims as Parquet parts, the claim vectors as a file read a
wave at a time, the facts as parts (compare.index.spool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compare.core.config import load_settings
from compare.core.distributed import LocalEngine
from compare.core.schema import CLAIM_SCHEMA
from compare.core.store import ArticleTexts, Store
from compare.demo import demo_corpus_text
from compare.index import build_index, snapshot_claims
from compare.index import stages
from compare.index.snapshot import snapshot_facts
from compare.index.spool import ClaimWriter, VectorWriter
from compare.ingest import ingest


def corpus_file(path: Path, texts: list[str]) -> Path:
    pl.DataFrame({"id": [f"a{row}" for row in range(len(texts))], "text": texts}).write_parquet(path)
    return path


def test_article_texts_read_rows_slices_and_any_order_a_chunk_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"text number {row}" for row in range(50)]
    reader = ArticleTexts(corpus_file(tmp_path / "articles.parquet", texts), len(texts), chunk_rows=7)
    assert len(reader) == 50 and reader[0] == texts[0] and reader[49] == texts[49] and reader[-1] == texts[-1]
    assert reader[5:17] == texts[5:17] and reader[::10] == texts[::10]
    with pytest.raises(IndexError):
        reader[50]
    reads: list[int] = []
    original = ArticleTexts._read

    def counted(self: ArticleTexts, chunk: int) -> list[str]:
        if self._chunk[0] != chunk:
            reads.append(chunk)
        return original(self, chunk)

    monkeypatch.setattr(ArticleTexts, "_read", counted)
    rows = [48, 3, 22, 4, 47, 21, 0]
    assert reader.take(rows) == [texts[row] for row in rows]
    assert sorted(reads) == sorted(set(reads)) == [0, 3, 6]  # each chunk read once, whatever the order asked


def test_pinned_texts_do_not_change_when_the_corpus_file_is_replaced(tmp_path: Path) -> None:
    path = corpus_file(tmp_path / "articles.parquet", ["before one", "before two"])
    pin = tmp_path / "scratch"
    pin.mkdir()
    reader = ArticleTexts(path, 2, pin=pin)
    replacement = corpus_file(tmp_path / "new.parquet", ["after one", "after two"])
    os.replace(replacement, path)  # what an ingest does: write aside, rename over
    assert reader[0:2] == ["before one", "before two"]
    assert ArticleTexts(path, 2)[0] == "after one"


def claims(article: str, count: int) -> pl.DataFrame:
    return pl.DataFrame(
        [(f"{article}:{n}", article, "Outlet", n, 0, 1, f"{article} claim {n}") for n in range(count)], schema=CLAIM_SCHEMA, orient="row"
    )


def test_vector_rows_number_the_chosen_articles_claims_across_parts(tmp_path: Path) -> None:
    writer = ClaimWriter(tmp_path)
    for part in (pl.concat([claims("a", 2), claims("b", 3)]), claims("c", 1), pl.concat([claims("d", 2), claims("e", 1)])):
        writer.add(part)
    table = writer.table()
    assert (len(table.parts), table.height) == (3, 9)
    assert dict(table.counts.iter_rows()) == {"a": 2, "b": 3, "c": 1, "d": 2, "e": 1}
    stored = table.with_vector_rows({"b", "d"}, tmp_path).collect()
    assert stored["claim_id"].to_list() == table.collect()["claim_id"].to_list()
    assert stored["vector_row"].to_list() == [None, None, 0, 1, 2, None, 3, 4, None]
    assert table.of_articles({"e", "a"})["claim_id"].to_list() == ["a:0", "a:1", "e:0"]
    table.write(tmp_path / "claims.parquet")
    assert_frame_equal(pl.read_parquet(tmp_path / "claims.parquet"), table.collect())
    numbered = table.with_vector_rows({"b", "d"}, tmp_path)
    assert numbered.vector_rows == 5
    assert [text for part in numbered.texts_to_embed() for text in part] == ["b claim 0", "b claim 1", "b claim 2", "d claim 0", "d claim 1"]


def test_vector_file_is_the_blocks_appended_and_reads_any_rows(tmp_path: Path) -> None:
    blocks = [np.arange(12, dtype=np.float32).reshape(4, 3), np.zeros((0, 3), np.float32), -np.ones((2, 3), np.float32)]
    writer = VectorWriter(tmp_path / "v.npy", 6)
    for block in blocks:
        writer.add(block)
    vectors = writer.close()
    whole = np.concatenate(blocks)
    assert (vectors.rows, vectors.dimension) == (6, 3)
    assert np.array_equal(np.load(tmp_path / "v.npy"), whole)
    assert np.array_equal(vectors.take(np.array([5, 0, 2])), whole[[5, 0, 2]])
    assert vectors.take(np.array([], dtype=np.int64)).shape == (0, 3)
    vectors.write(tmp_path / "snapshot.npy")
    assert (tmp_path / "snapshot.npy").read_bytes() == (tmp_path / "v.npy").read_bytes()
    assert np.load(VectorWriter(tmp_path / "empty.npy", 0).close().path).shape == (0, 0)


def test_vector_writer_refuses_rows_it_did_not_announce(tmp_path: Path) -> None:
    writer = VectorWriter(tmp_path / "v.npy", 2)
    writer.add(np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        writer.add(np.ones((1, 5), np.float32))
    with pytest.raises(ValueError, match="1 rows written, 2 announced"):
        writer.close()


def test_claims_split_in_small_rounds_are_the_claims_of_one_round(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [json.loads(line) for line in demo_corpus_text().splitlines() if line.strip()]
    source = tmp_path / "demo.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    built = []
    for name, batch_size, at_once in (("one", 256, 16), ("rounds", 2, 1)):
        home = tmp_path / name
        ingest(Store(home), [source])
        monkeypatch.setattr(stages, "_CLAIM_BATCHES_AT_ONCE", at_once)
        settings = load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}})
        built.append(build_index(Store(home), settings, engine=LocalEngine(batch_size=batch_size)))
    one, rounds = (snapshot_claims(index.path) for index in built)
    assert rounds.height == one.height > 0
    assert_frame_equal(rounds, one)
    assert built[1].manifest.stages["claims"]["claims"] == one.height
    assert np.array_equal(np.load(built[0].path / "claim_vectors.npy"), np.load(built[1].path / "claim_vectors.npy"))


def test_facts_in_small_waves_claim_vectors_in_slices_and_tfidf_rows_on_disk_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The facts stage reads each wave's claims and vectors from disk and writes its documents as a
    part; the claim-vector stage appends slices to a file; story grouping reads its TF-IDF rows from
    the scratch folder past TFIDF_HELD_WORDS. None of it may change what a build stores."""
    from compare.stories import grouping

    records = [json.loads(line) for line in demo_corpus_text().splitlines() if line.strip()]
    source = tmp_path / "demo.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    built = []
    spilled: list[object] = []
    original = grouping._TfidfRowWriter.finish
    monkeypatch.setattr(grouping._TfidfRowWriter, "finish", lambda self, total: spilled.append(original(self, total)) or spilled[-1])
    for name, batch_size, waves, claims_per_slice, held_words in (("one", 256, 64, 8192, 16_000_000), ("waves", 8, 1, 3, 10)):
        home = tmp_path / name
        ingest(Store(home), [source])
        monkeypatch.setattr(stages, "_FACT_BATCHES_AT_ONCE", waves)
        monkeypatch.setattr(stages, "_CLAIMS_PER_SLICE", claims_per_slice)
        monkeypatch.setattr(grouping, "TFIDF_HELD_WORDS", held_words)
        # texts read 3 rows at a time: the embedding stage fills the article matrix chunk by chunk
        monkeypatch.setitem(ArticleTexts.__init__.__kwdefaults__, "chunk_rows", 8192 if name == "one" else 3)
        settings = load_settings(home, environ={}, overrides={"embed": {"model": "hashing"}})
        built.append(build_index(Store(home), settings, engine=LocalEngine(batch_size=batch_size)))
    one, waves = (snapshot_facts(index.path).sort("story_id") for index in built)
    assert one.height == waves.height == 2  # both demo stories have 3+ outlets: two waves of one story
    assert built[1].manifest.stages["facts"]["computed"] == 2
    assert_frame_equal(waves, one)
    assert np.array_equal(np.load(built[0].path / "claim_vectors.npy"), np.load(built[1].path / "claim_vectors.npy"))
    assert [type(rows).__name__ for rows in spilled] == ["csr_matrix", "SpilledRows"]
    assert_frame_equal(pl.read_parquet(built[1].path / "stories.parquet"), pl.read_parquet(built[0].path / "stories.parquet"))
    assert np.array_equal(np.load(built[0].path / "article_vectors.npy"), np.load(built[1].path / "article_vectors.npy"))
    assert built[1].manifest.embedded == built[0].manifest.articles  # every chunk's texts counted


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics checked on Linux only")
def test_a_vector_file_past_a_full_disk_is_an_oserror_naming_the_file(tmp_path: Path) -> None:
    """The build reports a full disk from the OSError's errno and file name (RLIMIT_FSIZE stands in for ENOSPC)."""
    script = textwrap.dedent(
        f"""
        import errno, resource, signal
        from pathlib import Path
        import numpy as np
        from compare.index.spool import VectorWriter
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        target = Path({str(tmp_path / "vectors.npy")!r})
        writer = VectorWriter(target, 100)
        try:
            for _ in range(10):
                writer.add(np.ones((10, 384), np.float32))
            writer.close()
        except OSError as error:
            print(error.errno == errno.EFBIG, error.filename == str(target))
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.stdout.split() == ["True", "True"], finished.stderr

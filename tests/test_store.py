"""compare.core.store: idempotent appends, atomic rewrites that survive crashes, the cross-process lock, rejects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compare.core.schema import ARTICLE_SCHEMA
from compare.core.store import AddResult, Reject, Store, StoreLockedError

T0 = datetime(2026, 8, 20, 7, 40, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[1]


def articles(*ids: str, outlet: str = "AP") -> pl.DataFrame:
    rows = [
        {
            "id": article_id, "outlet": outlet, "url": f"https://example.org/{article_id}", "title": f"Title {article_id}",
            "published": T0, "language": "en", "byline": None, "text": f"Body of {article_id}. It has words.",
            "wire_credit": None, "source_file": "in.jsonl", "ingested_at": T0,
        }
        for article_id in ids
    ]
    return pl.DataFrame(rows, schema=ARTICLE_SCHEMA)


def leftover_temp_files(store: Store) -> list[Path]:
    return sorted(store.articles_path.parent.glob(".articles.parquet.*.tmp"))


def test_empty_store_reads_as_empty_frame(tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    assert store.articles().height == 0
    assert store.articles().schema == pl.Schema(ARTICLE_SCHEMA)
    assert store.corpus_version() == "empty"


def test_add_articles_is_idempotent_by_id(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.add_articles(articles("a", "b")) == AddResult(added=2, duplicates=0)
    first = store.articles()
    version = store.corpus_version()
    assert store.add_articles(articles("a", "b")) == AddResult(added=0, duplicates=2)
    assert_frame_equal(store.articles(), first)
    assert store.corpus_version() == version  # nothing new: the file is not rewritten
    # "b" is already stored; the repeated "c" is stored once (ingest counts repeats within its input itself).
    assert store.add_articles(articles("b", "c", "c")) == AddResult(added=1, duplicates=1)
    assert store.articles()["id"].to_list() == ["a", "b", "c"]


def test_same_id_different_content_keeps_the_stored_version(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a", outlet="AP"))
    store.add_articles(articles("a", outlet="Reuters"))
    assert store.articles()["outlet"].to_list() == ["AP"]


def test_add_articles_rejects_frames_missing_columns(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="missing columns: .*text"):
        store.add_articles(articles("a").drop("text"))
    assert not store.articles_path.exists()


def test_crash_while_writing_leaves_previous_corpus_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a", "b"))
    before = store.articles()
    original_write = pl.DataFrame.write_parquet

    def torn_write(self: pl.DataFrame, file: object, *args: object, **kwargs: object) -> None:
        original_write(self, file, *args, **kwargs)
        data = Path(str(file)).read_bytes()
        Path(str(file)).write_bytes(data[: len(data) // 2])  # a partial file on disk, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", torn_write)
    with pytest.raises(OSError, match="disk full"):
        store.add_articles(articles("c"))
    monkeypatch.undo()

    assert_frame_equal(store.articles(), before)
    assert leftover_temp_files(store) == []
    # The store still works after the failed write.
    assert store.add_articles(articles("c")).added == 1
    assert store.articles()["id"].to_list() == ["a", "b", "c"]


def test_process_killed_mid_write_leaves_previous_corpus_readable(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a", "b"))
    before = store.articles()
    script = textwrap.dedent(
        f"""
        import os
        from datetime import datetime, timezone
        from pathlib import Path
        import polars as pl
        from compare.core.schema import ARTICLE_SCHEMA
        from compare.core.store import Store

        def torn_write(self, file, *args, **kwargs):
            Path(str(file)).write_bytes(b"PAR1 partial")
            os._exit(9)  # no finally blocks, no cleanup: like a kill -9 mid-write

        pl.DataFrame.write_parquet = torn_write
        store = Store(Path({str(tmp_path)!r}))
        row = store.articles().head(1).with_columns(pl.lit("c").alias("id"), pl.lit("https://example.org/c").alias("url"))
        store.add_articles(row)
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert finished.returncode == 9, finished.stderr
    assert_frame_equal(store.articles(), before)
    assert len(leftover_temp_files(store)) == 1  # the torn temp file, never renamed over the corpus
    assert store.add_articles(articles("c")).added == 1


def test_lock_without_wait_raises_while_another_process_holds_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from compare.core.store import Store
                with Store(Path({str(tmp_path)!r})).lock():
                    print("locked", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=str(tmp_path)):
            with store.lock(wait=False):
                pass
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    assert holder.returncode == 0
    with store.lock(wait=False):
        pass  # released when the other process let go


def test_lock_is_released_after_the_block(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.lock(wait=False):
        pass
    with Store(tmp_path).lock(wait=False):
        pass


def test_write_rejects_writes_json_lines(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.write_rejects([]) is None
    rejects = [
        Reject(file="feed.jsonl", line=3, field="published", reason="not a date: 'yesterday'"),
        Reject(file="dump.csv", line=None, field=None, reason="empty text — “skipped”"),
    ]
    path = store.write_rejects(rejects)
    assert path is not None and path.parent == store.rejects_dir and path.suffix == ".jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"file": "feed.jsonl", "line": 3, "field": "published", "reason": "not a date: 'yesterday'"},
        {"file": "dump.csv", "line": None, "field": None, "reason": "empty text — “skipped”"},
    ]
    assert rejects[0].one_line() == "feed.jsonl:3: field 'published': not a date: 'yesterday'"
    assert rejects[1].one_line() == "dump.csv: empty text — “skipped”"


def test_corpus_version_changes_when_the_corpus_is_rewritten(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a"))
    version = store.corpus_version()
    stat = store.articles_path.stat()
    os.utime(store.articles_path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))  # rule out same-tick mtimes
    older = store.corpus_version()
    store.add_articles(articles("b"))
    assert store.corpus_version() not in (version, older)


def test_same_url_with_new_content_is_a_new_version_not_a_new_article(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a", "b"))
    edited = articles("a2").with_columns(pl.lit("https://example.org/a").alias("url"))
    assert store.add_articles(edited) == AddResult(added=1, duplicates=0, versions=1)
    assert store.articles()["id"].to_list() == ["b", "a2"]  # the corpus holds the latest version only
    history = store.versions()
    assert history["id"].to_list() == ["a"] and history["superseded_by"].to_list() == ["a2"]
    assert history["superseded_at"].item() is not None
    # Re-ingesting the old crawl does not bring it back; a third version chains to the latest.
    assert store.add_articles(articles("a")) == AddResult(added=0, duplicates=1)
    store.add_articles(articles("a3").with_columns(pl.lit("https://example.org/a").alias("url")))
    assert store.superseded_ids() == {"a": "a3", "a2": "a3"}
    assert store.articles()["id"].to_list() == ["b", "a3"]


def test_versions_of_one_url_in_a_single_batch_keep_the_last(tmp_path: Path) -> None:
    store = Store(tmp_path)
    batch = articles("v1", "v2", "other").with_columns(
        pl.when(pl.col("id") == "other").then(pl.col("url")).otherwise(pl.lit("https://example.org/same")).alias("url")
    )
    assert store.add_articles(batch) == AddResult(added=3, duplicates=0, versions=0)
    assert store.articles()["id"].to_list() == ["v2", "other"]
    assert store.versions()["id"].to_list() == ["v1"]


def test_articles_without_url_are_never_versions_of_each_other(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_articles(articles("a", "b").with_columns(pl.lit(None, dtype=pl.String).alias("url")))
    assert store.articles().height == 2 and store.versions().height == 0


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics checked on Linux only")
def test_a_polars_write_past_a_full_disk_is_an_oserror_naming_the_file(tmp_path: Path) -> None:
    """polars reports a full disk as ComputeError; every build writer goes through `written`, so the
    build's disk-full handling (an OSError with ENOSPC/EFBIG) sees it. RLIMIT_FSIZE stands in for ENOSPC."""
    script = textwrap.dedent(
        f"""
        import errno, resource, signal
        from pathlib import Path
        import polars as pl
        from compare.core.store import written
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        frame = pl.DataFrame({{"text": [str(n) * 50 for n in range(5000)]}})
        target = Path({str(tmp_path / "big.parquet")!r})
        try:
            written(frame.write_parquet, target)
        except OSError as error:
            print(error.errno == errno.EFBIG, error.filename == str(target))
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.stdout.split() == ["True", "True"], finished.stderr

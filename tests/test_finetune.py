"""compare.finetune: pair-file readers (clear errors), the deterministic fit/score split, training pairs.

The training loop itself is exercised by `compare finetune` (CPU minutes), not by the unit tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.finetune import DataError, LabelledPair, load_mrpc, load_sts, split_fit_score, training_pairs

MRPC = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + "".join(
    f"{n % 2}\t{100 + n}\t{200 + n}\tThe depot exploded {n} times.\tThe \"depot\" blew up {n} times.\n" for n in range(50)
)
STS = "main-news\tMSRpar\t2012test\t0001\t4.200\tA depot exploded.\tThe depot blew up.\nmain-news\theadlines\t2015\t0002\t0.500\tHeat wave hits.\tDepot blew up.\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_mrpc_reads_labels_ids_and_quotes(tmp_path: Path) -> None:
    pairs = load_mrpc(write(tmp_path, "mrpc.txt", MRPC))
    assert len(pairs) == 50
    assert pairs[1] == LabelledPair("101-201", "101", "201", "The depot exploded 1 times.", 'The "depot" blew up 1 times.', 1.0)


def test_load_sts_reads_scores(tmp_path: Path) -> None:
    pairs = load_sts(write(tmp_path, "sts.csv", STS))
    assert [(p.left, p.label) for p in pairs] == [("A depot exploded.", 4.2), ("Heat wave hits.", 0.5)]


@pytest.mark.parametrize(
    ("loader", "text", "message"),
    [
        (load_mrpc, "id\tfoo\n", "expected an MRPC header"),
        (load_mrpc, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\nyes\t1\t2\ta\tb\n", r"mrpc.txt:2: field 'Quality'"),
        (load_sts, "main-news\tMSRpar\t2012\t1\tfive\ta\tb\n", r"mrpc.txt:1: field 'score'"),
        (load_sts, "main-news\tMSRpar\t2012\t1\t5.0\ta\n", "expected sentence1 and sentence2"),
    ],
)
def test_bad_rows_are_one_line_errors_naming_file_line_and_field(tmp_path: Path, loader, text: str, message: str) -> None:  # noqa: ANN001
    with pytest.raises(DataError, match=message):
        loader(write(tmp_path, "mrpc.txt", text))


def test_split_is_deterministic_disjoint_and_near_the_share(tmp_path: Path) -> None:
    pairs = [LabelledPair(f"{n}-{n + 1}", "", "", "a", "b", 1.0) for n in range(2000)]
    fit, score = split_fit_score(pairs)
    assert split_fit_score(pairs) == (fit, score)
    assert {p.key for p in fit}.isdisjoint({p.key for p in score})
    assert len(fit) + len(score) == 2000
    assert 0.35 < len(fit) / 2000 < 0.45


def test_training_pairs_use_only_the_mrpc_fit_part_unless_asked(tmp_path: Path) -> None:
    mrpc = write(tmp_path, "mrpc.txt", MRPC)
    sts = write(tmp_path, "sts.csv", STS)
    fit_only = training_pairs([mrpc], [sts])
    everything = training_pairs([mrpc], [sts], all_mrpc_rows=True)
    assert len(everything) == 52
    assert len(fit_only) == len(split_fit_score(load_mrpc(mrpc))[0]) + 2
    assert (sts_pair := fit_only[-2]) == ("A depot exploded.", "The depot blew up.", pytest.approx(0.84))
    assert sts_pair[2] <= 1.0

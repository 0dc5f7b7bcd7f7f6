"""compare.dedup.minhash_kernels and the signature path of compare.dedup.clusters: bit-for-bit datasketch and xxhash."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import xxhash
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from wirecopy import text_signatures  # noqa: E402  (benchmarks/wirecopy.py: the raw-text signature path it times)

from compare.dedup import minhash_kernels  # noqa: E402
from compare.core.config import MinHashConfig  # noqa: E402
from compare.dedup.clusters import permutations, shingle_texts, shingles, signatures  # noqa: E402
from compare.text.normalize import normalize_unicode  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_compiled_xxh64_equals_xxhash(data: bytes) -> None:
    assert minhash_kernels.xxh64(data) == xxhash.xxh64_intdigest(data)


def test_word_hashes_are_xxh64_of_lowercased_words_with_char_offsets() -> None:
    text = "The DEPOT “lies” 80 km—north of Baghdad,\u00a0near Balad_x… «quoted»"
    shingled = shingle_texts([text], 5)
    starts, ends = shingled.words(0)
    words = [text[a:b] for a, b in zip(starts, ends, strict=True)]
    assert words == ["The", "DEPOT", "lies", "80", "km", "north", "of", "Baghdad", "near", "Balad_x", "quoted"]
    assert shingled.word_hashes.tolist() == [xxhash.xxh64_intdigest(w.lower().encode()) for w in words]


_ALPHABET = st.sampled_from(list("aZ9_ .,'-\n") + ['"', "é", "É", "ß", "Ж", "ж", "“", "”", "’", "—", "\u00a0", "²", "🎉", "ł", "ñ", "Ñ", "ÿ", "©", "°", "×", "÷", "ª", "µ", "¿"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_fast_path_words_equal_unicode_normalisation(text: str) -> None:
    # The compiled tokenizer and the polars Unicode path must agree on every text.
    fast = shingle_texts([text], 2)
    slow = shingle_texts([normalize_unicode([text])[0]], 2)
    np.testing.assert_array_equal(fast.word_hashes, slow.word_hashes)
    assert shingles(text, 2).tolist() == shingles(normalize_unicode([text])[0], 2).tolist()


def test_unicode_texts_are_lowercased_and_offsets_index_the_original() -> None:
    text = "ÉCOLE Łódź «Straße» ЖУРНАЛ"
    shingled = shingle_texts([text], 5)
    starts, ends = shingled.words(0)
    assert [text[a:b] for a, b in zip(starts, ends, strict=True)] == ["ÉCOLE", "Łódź", "Straße", "ЖУРНАЛ"]
    np.testing.assert_array_equal(shingles(text, 5), shingles("école łódź straße журнал", 5))


def test_signatures_equal_datasketch_minhash_for_the_same_hashes() -> None:
    config = MinHashConfig(num_perm=64, seed=7)
    rng = random.Random(2)
    texts = [" ".join(rng.choice(["alpha", "beta", "gamma", "delta", "eps", "zeta"]) for _ in range(n)) for n in (0, 3, 40, 200)]
    ours = text_signatures(texts, config)
    for text, lean in zip(texts, ours, strict=True):
        reference = MinHash(num_perm=64, seed=7, hashfunc=lambda value: int.from_bytes(value[:4], "little"))
        reference.update_batch([int(h).to_bytes(8, "little") for h in shingles(text, 5)])
        np.testing.assert_array_equal(lean.hashvalues, reference.hashvalues)
        assert lean.scheme == reference.scheme == "affine32" and lean.seed == 7
        assert lean.jaccard(reference) == 1.0
    sets = [shingles(text, 5) for text in texts]
    assert [s.hashvalues.tolist() for s in signatures(sets, config)] == [s.hashvalues.tolist() for s in ours]
    a, b = permutations(64, 7)
    np.testing.assert_array_equal(np.asarray(MinHash(num_perm=64, seed=7).permutations), np.stack([a, b]))

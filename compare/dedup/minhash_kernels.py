"""Compiled inner loops of wire-copy detection (numba): word hashing, shingling, MinHash signatures.

Why compiled: the plain datasketch way (Python shingle strings, sha1, `update_batch`) manages a few
hundred articles a second; numpy alone about 5x that (shared/STACK-NOTES.md). These loops do the
same arithmetic as datasketch's "affine32" scheme, so their signatures are datasketch signatures.

Text reaches `word_hashes` as UTF-8 bytes. ASCII letters are lower-cased here; a word is a run of
ASCII letters, digits and "_" or of non-ASCII code points, except the punctuation and spaces listed
in `_is_separator` (curly quotes, dashes, non-breaking space...). Texts with any other non-ASCII
character (lower-case Latin-1 letters aside) are normalised by compare.dedup.clusters first (Unicode lower-case, non-word characters to spaces).
Word hashes are xxh64 (seed 0) of the lower-cased word's UTF-8 bytes, equal to `xxhash.xxh64_intdigest`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_MASK32 = np.uint64(0xFFFFFFFF)
ROLL_BASE = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always", cache=True)
def _rotl(x: np.uint64, r: int) -> np.uint64:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@njit(inline="always", cache=True)
def _read64(buf: np.ndarray, i: int, lower: np.ndarray) -> np.uint64:
    value = np.uint64(0)
    for k in range(8):
        value |= np.uint64(lower[buf[i + k]]) << np.uint64(8 * k)
    return value


@njit(inline="always", cache=True)
def _read32(buf: np.ndarray, i: int, lower: np.ndarray) -> np.uint64:
    value = np.uint64(0)
    for k in range(4):
        value |= np.uint64(lower[buf[i + k]]) << np.uint64(8 * k)
    return value


@njit(inline="always", cache=True)
def _round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc = acc + lane * _P2
    acc = _rotl(acc, 31)
    return acc * _P1


@njit(inline="always", cache=True)
def _merge(acc: np.uint64, value: np.uint64) -> np.uint64:
    acc ^= _round(np.uint64(0), value)
    return acc * _P1 + _P4


@njit(cache=True)
def _xxh64_mapped(buf: np.ndarray, start: int, length: int, lower: np.ndarray) -> np.uint64:
    i = start
    stop = start + length
    if length >= 32:
        v1 = _P1 + _P2
        v2 = _P2
        v3 = np.uint64(0)
        v4 = np.uint64(0) - _P1
        while i + 32 <= stop:
            v1 = _round(v1, _read64(buf, i, lower))
            v2 = _round(v2, _read64(buf, i + 8, lower))
            v3 = _round(v3, _read64(buf, i + 16, lower))
            v4 = _round(v4, _read64(buf, i + 24, lower))
            i += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = _P5
    h += np.uint64(length)
    while i + 8 <= stop:
        h ^= _round(np.uint64(0), _read64(buf, i, lower))
        h = _rotl(h, 27) * _P1 + _P4
        i += 8
    if i + 4 <= stop:
        h ^= _read32(buf, i, lower) * _P1
        h = _rotl(h, 23) * _P2 + _P3
        i += 4
    while i < stop:
        h ^= np.uint64(lower[buf[i]]) * _P5
        h = _rotl(h, 11) * _P1
        i += 1
    h ^= h >> np.uint64(33)
    h *= _P2
    h ^= h >> np.uint64(29)
    h *= _P3
    h ^= h >> np.uint64(32)
    return h


# Byte tables: ASCII upper case to lower case (other bytes unchanged), and ASCII word characters.
LOWER = np.arange(256, dtype=np.uint8)
LOWER[65:91] += 32
ASCII_WORD = np.zeros(256, dtype=np.bool_)
for _byte in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_":
    ASCII_WORD[_byte] = True


def xxh64(data: bytes) -> int:
    """xxh64 (seed 0) of `data` computed by the compiled code, for tests against the xxhash package."""
    buf = np.frombuffer(data or b"\0", dtype=np.uint8)
    return int(_xxh64_mapped(buf, 0, len(data), np.arange(256, dtype=np.uint8)))


@njit(inline="always", cache=True)
def _is_separator(cp: int) -> bool:
    # Non-ASCII code points that are punctuation, symbols or spaces for Unicode \w (polars/Rust) and
    # unchanged by lower-casing: Latin-1 punctuation and symbols, general punctuation (quotes, dashes).
    if 0xA0 <= cp <= 0xBF:
        return not (cp == 0xAA or cp == 0xB2 or cp == 0xB3 or cp == 0xB5 or cp == 0xB9 or cp == 0xBA or 0xBC <= cp <= 0xBE)
    return (
        cp == 0xD7 or cp == 0xF7 or (0x2010 <= cp <= 0x2027) or (0x2030 <= cp <= 0x203D)
        or (0x2041 <= cp <= 0x2053) or (0x2055 <= cp <= 0x205E)
    )


@njit(inline="always", cache=True)
def _is_lower_latin1(cp: int) -> bool:
    # à..ÿ and ß: letters already in lower case, handled without Unicode normalisation.
    return 0xDF <= cp <= 0xFF and cp != 0xF7


def word_hashes(data: np.ndarray, doc_bytes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Words of every document: (xxh64 hashes, char start, char end, per-document word offsets).

    `doc_bytes` has n+1 byte offsets into `data`; char offsets are code-point offsets into each
    document's text, so they index the Python string.
    """
    return _word_hashes(data, doc_bytes, LOWER, ASCII_WORD)


@njit(cache=True)
def _word_hashes(
    data: np.ndarray, doc_bytes: np.ndarray, lower: np.ndarray, ascii_word: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_docs = doc_bytes.size - 1
    capacity = data.size // 2 + n_docs + 1
    hashes = np.empty(capacity, dtype=np.uint64)
    starts = np.empty(capacity, dtype=np.int32)
    ends = np.empty(capacity, dtype=np.int32)
    doc_words = np.zeros(n_docs + 1, dtype=np.int64)
    count = 0
    for d in range(n_docs):
        i = doc_bytes[d]
        stop = doc_bytes[d + 1]
        char = 0
        in_word = False
        word_byte = 0
        word_char = 0
        while i < stop:
            byte = data[i]
            if byte < 0x80:
                width = 1
                is_word = ascii_word[byte]
            elif byte >= 0xF0:
                width = 4
                is_word = True
            elif byte >= 0xE0:
                width = 3
                is_word = True
                if byte == 0xE2 and i + 2 < stop:
                    cp = ((int(byte) & 0x0F) << 12) | ((int(data[i + 1]) & 0x3F) << 6) | (int(data[i + 2]) & 0x3F)
                    is_word = not _is_separator(cp)
            else:
                width = 2
                is_word = True
                if (byte == 0xC2 or byte == 0xC3) and i + 1 < stop:
                    cp = ((int(byte) & 0x1F) << 6) | (int(data[i + 1]) & 0x3F)
                    is_word = not _is_separator(cp)
            if is_word:
                if not in_word:
                    in_word = True
                    word_byte = i
                    word_char = char
            elif in_word:
                hashes[count] = _xxh64_mapped(data, word_byte, i - word_byte, lower)
                starts[count] = word_char
                ends[count] = char
                count += 1
                in_word = False
            i += width
            char += 1
        if in_word:
            hashes[count] = _xxh64_mapped(data, word_byte, stop - word_byte, lower)
            starts[count] = word_char
            ends[count] = char
            count += 1
        doc_words[d + 1] = count
    return hashes[:count], starts[:count], ends[:count], doc_words


@njit(cache=True)
def roll_shingles(hashes: np.ndarray, doc_words: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Word n-gram hashes per document, h0*B^(n-1) + ... + h(n-1) mod 2**64, shingle i starting at word i.

    A document with 1..size-1 words has one shingle over all its words; an empty one has none.
    """
    n_docs = doc_words.size - 1
    doc_shingles = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        words = doc_words[d + 1] - doc_words[d]
        doc_shingles[d + 1] = doc_shingles[d] + (max(1, words - size + 1) if words > 0 else 0)
    out = np.empty(doc_shingles[n_docs], dtype=np.uint64)
    for d in range(n_docs):
        first = doc_words[d]
        words = doc_words[d + 1] - first
        if words == 0:
            continue
        span = min(size, words)
        for s in range(doc_shingles[d + 1] - doc_shingles[d]):
            value = np.uint64(0)
            for k in range(span):
                value = value * ROLL_BASE + hashes[first + s + k]
            out[doc_shingles[d] + s] = value
    return out, doc_shingles


@njit(inline="always", cache=True)
def _fmix32(h: np.uint64) -> np.uint64:
    h &= _MASK32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _MASK32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _MASK32
    h ^= h >> np.uint64(16)
    return h


@njit(cache=True)
def minhash_ranges(
    shingle_hashes: np.ndarray, keep: np.ndarray, starts: np.ndarray, stops: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """datasketch "affine32" signatures of shingle_hashes[starts[r]:stops[r]] for every range r.

    The input hash of a shingle is its low 32 bits (what `int.from_bytes(h[:4], "little")` gives a
    datasketch hashfunc); shingles with keep False are skipped; an empty range keeps 2**32-1 everywhere.
    """
    perms = a.size
    out = np.full((starts.size, perms), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    a64 = a.astype(np.uint64)
    b64 = b.astype(np.uint64)
    row = np.empty(perms, dtype=np.uint64)
    for r in range(starts.size):
        row[:] = 0xFFFFFFFF
        for s in range(starts[r], stops[r]):
            if not keep[s]:
                continue
            h = _fmix32(shingle_hashes[s])
            for p in range(perms):
                v = (a64[p] * h + b64[p]) & _MASK32
                if v < row[p]:
                    row[p] = v
        for p in range(perms):
            out[r, p] = row[p]
    return out


@njit(cache=True)
def needs_unicode(data: np.ndarray, doc_bytes: np.ndarray) -> np.ndarray:
    """Per document: True when it has a non-ASCII character `word_hashes` does not handle itself."""
    n_docs = doc_bytes.size - 1
    flags = np.zeros(n_docs, dtype=np.bool_)
    for d in range(n_docs):
        i = doc_bytes[d]
        stop = doc_bytes[d + 1]
        while i < stop:
            byte = data[i]
            if byte < 0x80:
                i += 1
                continue
            if byte == 0xE2 and i + 2 < stop:
                cp = ((int(byte) & 0x0F) << 12) | ((int(data[i + 1]) & 0x3F) << 6) | (int(data[i + 2]) & 0x3F)
                if _is_separator(cp):
                    i += 3
                    continue
            elif (byte == 0xC2 or byte == 0xC3) and i + 1 < stop:
                cp = ((int(byte) & 0x1F) << 6) | (int(data[i + 1]) & 0x3F)
                if _is_separator(cp) or _is_lower_latin1(cp):
                    i += 2
                    continue
            flags[d] = True
            break
    return flags

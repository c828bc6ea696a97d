"""The dedup verifier: exact and near-duplicate removal over a whole dataset, linear in rows.

Texts are normalised before anything is compared: lower-cased, whitespace runs collapsed to one
space, ends stripped.

Exact duplicates share `exact_key`, a 64-bit xxhash of the normalised text.

Near duplicates are found with MinHash over word shingles (`shingle` consecutive
whitespace-separated words, 5 by default) and LSH banding:

    * every word is hashed by a polynomial over its UTF-8 bytes modulo 2**64, computed for all
      words at once with numpy prefix sums, and a shingle's hash mixes its words' hashes; the
      `num_perm` hash functions are the multiply-add-shift family ((a*h + b) mod 2**64) >> 32
      over 32-bit shingle hashes h, with a and b drawn from xxh64 of the seed, evaluated in
      numpy over every shingle at once: 2-universal like (a*h + b) mod p, without a division.
      Nothing uses Python's salted hash(), so signatures are the same in every process and on
      every machine;
    * a signature is the minimum of each function over a text's shingles, and the share of
      positions where two signatures agree estimates the Jaccard similarity of their shingle
      sets;
    * signatures are cut into bands of r rows; two texts become candidates when a whole band
      agrees. r is chosen so that a pair at the threshold becomes a candidate with probability
      >= 0.99 (`lsh_bands`), and every candidate is confirmed on the full signature.

`duplicate_mask` is order-dependent by design: the first occurrence in input order is kept.
A row is dropped when its exact key was seen earlier, or when it shares a band with an earlier
row that is kept and their estimated Jaccard similarity is >= threshold. Within a band bucket a
row is compared with the bucket's first row and the `max_candidates` rows before it, so the
work stays linear when thousands of template-like texts share a band; a true near duplicate
agrees on about half the bands (at r = 7 and J = 0.9), so it meets its original in a small
bucket almost surely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import xxhash

#: Probability that a pair exactly at the threshold becomes an LSH candidate.
TARGET_RECALL = 0.99
#: Earlier rows of its band bucket a row is compared with, besides the bucket's first row.
MAX_CANDIDATES = 4
# The signature of a text without words: above every 32-bit minimum, yet it fits an int64
# column when signatures are stored in parquet.
_EMPTY = np.uint64(1 << 32)
# Chunks small enough that numpy's passes over them stay in the CPU caches: with 8 MiB chunks
# of characters and cells, signatures took twice as long (measured on 5,000 lending examples).
_CHUNK_CELLS = 1 << 20  # shingles x num_perm per numpy chunk (8 MiB of uint64)
_CHUNK_CHARS = 1 << 17  # characters of text hashed per chunk
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = np.uint64(pow(0x9E3779B97F4A7C15, -1, 2**64))


def normalise(text: str) -> str:
    """Lower-cases `text` and collapses its whitespace: what both dedup passes compare."""
    return " ".join(text.lower().split())


def exact_key(text: str) -> int:
    """The 64-bit xxhash of the normalised text (equal for texts that differ only in case or
    spacing)."""
    return xxhash.xxh64_intdigest(normalise(text).encode())


def exact_keys(texts: Iterable[str]) -> np.ndarray:
    """`exact_key` of every text, as a uint64 array."""
    texts = list(texts)
    keys = np.empty(len(texts), dtype=np.uint64)
    for lo, hi in _chunks(texts):
        keys[lo:hi] = _normalised_keys(_words(texts[lo:hi]))
    return keys


def minhash_signatures(
    texts: Sequence[str], num_perm: int = 64, shingle: int = 5, seed: int = 0
) -> np.ndarray:
    """MinHash signatures of word shingles, one row per text.

    Args:
        texts: the texts (normalised here; pass raw text).
        num_perm: hash functions per signature (more: finer similarity estimates).
        shingle: words per shingle; a text shorter than that is one shingle.
        seed: selects the hash functions; signatures compare only under the same seed.

    Returns:
        uint64 array of shape (len(texts), num_perm); values are below 2**32, except in the
        rows of texts without words, which hold 2**32 (so they fit signed 64-bit columns).
    """
    return _signatures(texts, num_perm, shingle, seed, None)


def dedup_keys(
    texts: Sequence[str], num_perm: int = 64, shingle: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`exact_keys(texts)` and `minhash_signatures(texts, num_perm, shingle, seed)` together:
    both start from the same split of the texts into words, done once here."""
    keys = np.empty(len(texts), dtype=np.uint64)
    return keys, _signatures(texts, num_perm, shingle, seed, keys)


def _signatures(
    texts: Sequence[str], num_perm: int, shingle: int, seed: int, keys: np.ndarray | None
) -> np.ndarray:
    """`minhash_signatures`; also fills `keys` with the exact keys when it is given."""
    if num_perm < 1 or shingle < 1:
        raise ValueError("num_perm and shingle must be >= 1")
    signatures = np.full((len(texts), num_perm), _EMPTY, dtype=np.uint64)
    chunks = _chunks(texts)
    if not chunks:
        return signatures
    powers = _POWERS
    weights = _odd_constants(shingle, seed, "shingle")
    a, b = _hash_functions(num_perm, seed)
    for lo, hi in chunks:
        words = _words(texts[lo:hi])
        if keys is not None:
            keys[lo:hi] = _normalised_keys(words)
        hashes, shingle_counts = _shingle_hashes(_word_hashes(words, powers), words.counts, weights)
        signatures[lo:hi] = _min_hashes(hashes, shingle_counts, a, b)
    return signatures


def lsh_bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """Bands and rows per band for LSH at `threshold`.

    Picks the most rows per band r (fewest false candidates) such that a pair whose similarity
    equals the threshold shares at least one of the num_perm // r bands with probability
    >= TARGET_RECALL.

    Returns:
        (bands, rows).
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= TARGET_RECALL:
            best = (bands, rows)
    return best


def duplicate_mask(
    exact: np.ndarray,
    signatures: np.ndarray | None = None,
    threshold: float = 0.9,
    *,
    max_candidates: int = MAX_CANDIDATES,
) -> np.ndarray:
    """Marks the rows to drop: later exact duplicates and later near duplicates.

    The first occurrence in input order is kept. See the module docstring for the rule.

    Args:
        exact: `exact_key` per row (uint64, shape (n,)).
        signatures: `minhash_signatures` per row, or None for exact dedup only.
        threshold: estimated Jaccard similarity at or above which a row duplicates another.
        max_candidates: earlier rows of a band bucket each row is compared with, besides the
            bucket's first row.

    Returns:
        bool array of shape (n,), True for rows to drop.
    """
    exact = np.asarray(exact, dtype=np.uint64)
    n = exact.shape[0]
    drop = np.ones(n, dtype=bool)
    _, first = np.unique(exact, return_index=True)
    drop[first] = False
    if signatures is None or n < 2:
        return drop
    signatures = np.asarray(signatures).astype(np.uint64, copy=False)  # e.g. int64 from parquet
    if signatures.shape[0] != n:
        raise ValueError(f"{signatures.shape[0]} signatures for {n} exact keys")
    later, earlier = _candidate_pairs(signatures, threshold, max_candidates)
    if later.size == 0:
        return drop
    similar = _similarity(signatures, later, earlier) >= threshold
    flags = drop.tolist()  # plain-list indexing is several times faster than numpy's here
    settle(flags, later[similar], earlier[similar])
    return np.array(flags, dtype=bool)


def _chunks(texts: Sequence[str]) -> list[tuple[int, int]]:
    """Consecutive ranges of texts of about _CHUNK_CHARS characters (one text at least)."""
    chunks = []
    lo = size = 0
    for index, text in enumerate(texts):
        if size and size + len(text) > _CHUNK_CHARS:
            chunks.append((lo, index))
            lo, size = index, 0
        size += len(text) + 1
    if texts:
        chunks.append((lo, len(texts)))
    return chunks


class _Powers:
    """BASE**i and BASE**-i modulo 2**64 for i = 0, 1, ..., grown on demand."""

    def __init__(self) -> None:
        self.up = self.down = np.empty(0, dtype=np.uint64)

    def ensure(self, length: int) -> None:
        if length > self.up.shape[0]:
            length = max(length, 2 * self.up.shape[0])
            self.up = _powers(_BASE, length)
            self.down = _powers(_BASE_INVERSE, length)


#: Shared across calls: the tables depend only on the length, and rebuilding them cost about
#: 0.2 s per 10,000-text shard.
_POWERS = _Powers()


def _powers(base: np.uint64, length: int, block: int = 4096) -> np.ndarray:
    """base**i modulo 2**64 for i < length, as an outer product of two short power tables
    (a single multiply.accumulate over millions of elements is several times slower)."""
    low = np.multiply.accumulate(np.full(block, base, dtype=np.uint64))
    low = np.concatenate(([np.uint64(1)], low[:-1]))  # base**0 .. base**(block-1)
    step = np.uint64(pow(int(base), block, 2**64))
    high = np.multiply.accumulate(np.full(-(-length // block), step, dtype=np.uint64))
    high = np.concatenate(([np.uint64(1)], high[:-1]))
    return np.multiply(high[:, None], low[None, :]).ravel()[:length]


class _Words(NamedTuple):
    """The words of some texts, as `normalise` leaves them, located in one byte array."""

    data: np.ndarray  # the texts' lower-cased UTF-8 bytes, joined by "\n"
    space: np.ndarray  # True for the whitespace bytes of `data`
    starts: np.ndarray  # where each word starts in `data`, in order
    ends: np.ndarray  # where it ends (exclusive)
    counts: np.ndarray  # words per text


def _words(texts: Sequence[str]) -> _Words:
    """Finds the words of the texts in numpy, without building the normalised strings.

    An ASCII text is lower-cased and then split at the ASCII bytes str.split() splits at, which
    is what `normalise` does to it; any other text is normalised in Python first (Unicode
    whitespace rules), which leaves nothing for the split here to change. Splitting and joining
    the strings in Python cost about 9 us per 1,500-character text, in both dedup passes.
    """
    pieces = [text.lower() if text.isascii() else normalise(text) for text in texts]
    sizes = np.fromiter(
        (len(piece) if piece.isascii() else len(piece.encode()) for piece in pieces),
        dtype=np.int64,
        count=len(pieces),
    )
    data = np.frombuffer("\n".join(pieces).encode(), dtype=np.uint8)
    # Tab to carriage return, 0x1c to 0x1f, and space (uint8 arithmetic wraps, so one
    # comparison tests each range).
    space = ((data - np.uint8(9)) < np.uint8(5)) | ((data - np.uint8(28)) < np.uint8(5))
    breaks = np.flatnonzero(space)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [data.shape[0]]))
    present = ends > starts  # runs of whitespace leave empty segments
    starts, ends = starts[present], ends[present]
    text_ends = np.cumsum(sizes + 1) - 1  # each text's "\n", or the end of the data
    counts = np.diff(np.searchsorted(starts, text_ends), prepend=0)
    return _Words(data, space, starts, ends, counts)


def _normalised_keys(words: _Words) -> list[int]:
    """`exact_key` of each text: the xxh64 of its words joined by single spaces."""
    counts = words.counts
    owners = np.repeat(np.arange(counts.shape[0]), counts)
    # The whitespace byte after a word becomes the space before the next word of its text.
    joints = words.ends[:-1][owners[1:] == owners[:-1]]
    keep = ~words.space
    keep[joints] = True
    data = words.data.copy()
    data[joints] = ord(" ")
    normalised = memoryview(data[keep].tobytes())
    letters = np.concatenate(([0], np.cumsum(words.ends - words.starts)))
    sizes = np.diff(letters[np.cumsum(counts)], prepend=0) + np.maximum(counts - 1, 0)
    ends = np.cumsum(sizes)
    digest = xxhash.xxh64_intdigest
    return [
        digest(normalised[end - size : end])
        for end, size in zip(ends.tolist(), sizes.tolist(), strict=True)
    ]


def _word_hashes(words: _Words, powers: _Powers) -> np.ndarray:
    """A 64-bit hash of every word, in order.

    A word's hash is the polynomial sum(byte_j * BASE**j) over its UTF-8 bytes modulo 2**64,
    computed for all words at once from prefix sums over the joined texts (shifting a word's
    sum to its own start multiplies by a power of BASE's inverse), then finalised. It depends
    only on the word's bytes, never on where the word stands.
    """
    data, starts, ends = words.data, words.starts, words.ends
    length = data.shape[0]
    powers.ensure(length)
    prefix = np.zeros(length + 1, dtype=np.uint64)
    np.cumsum(data * powers.up[:length], out=prefix[1:])
    raw = (prefix[ends] - prefix[starts]) * powers.down[starts]
    return _finalise(raw)


def _shingle_hashes(
    words: np.ndarray, counts: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every text's shingles, concatenated, and the number per text.

    Each text's words are followed by shingle - 1 zeros, so a shingle never spans two texts and
    a text shorter than a shingle still makes one.
    """
    shingle = weights.shape[0]
    texts = counts.shape[0]
    word_text = np.repeat(np.arange(texts, dtype=np.int64), counts)
    padded = np.zeros(words.shape[0] + texts * (shingle - 1), dtype=np.uint64)
    padded[np.arange(words.shape[0], dtype=np.int64) + word_text * (shingle - 1)] = words
    positions = max(padded.shape[0] - shingle + 1, 0)
    mixed = np.zeros(positions, dtype=np.uint64)
    for offset in range(shingle):
        mixed += padded[offset : offset + positions] * weights[offset]
    mixed = _finalise(mixed)
    shingle_counts = np.where(counts > 0, np.maximum(counts - shingle + 1, 1), 0)
    text_starts = np.cumsum(counts + shingle - 1) - (counts + shingle - 1)
    keep = np.repeat(text_starts, shingle_counts) + _ranges(shingle_counts)
    return mixed[keep] >> np.uint64(32), shingle_counts


def _min_hashes(hashes: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per text, the minimum of ((a*h + b) mod 2**64) >> 32 over its shingle hashes h.

    The shift is applied to the minima, not to every cell: x >> 32 is non-decreasing in x, so
    the minimum of the shifted values is the shifted minimum.
    """
    num_perm = a.shape[0]
    out = np.full((counts.shape[0], num_perm), _EMPTY, dtype=np.uint64)
    ends = np.cumsum(counts)
    starts = ends - counts
    budget = max(_CHUNK_CELLS // num_perm, int(counts.max(initial=1)))
    # Functions along rows: each row's shingles are contiguous, so reduceat over axis 1 runs
    # over contiguous memory (several times faster than over axis 0).
    cells = np.empty((num_perm, min(budget, hashes.shape[0])), dtype=np.uint64)
    shift = np.uint64(32)
    row = 0
    while row < counts.shape[0]:
        stop = max(int(np.searchsorted(ends, starts[row] + budget, side="right")), row + 1)
        lo, hi = int(starts[row]), int(ends[stop - 1])
        if hi > lo:
            view = cells[:, : hi - lo]
            np.multiply(a[:, None], hashes[None, lo:hi], out=view)
            np.add(view, b[:, None], out=view)
            present = np.flatnonzero(counts[row:stop]) + row
            minima = np.minimum.reduceat(view, starts[present] - lo, axis=1)
            out[present] = minima.T >> shift
        row = stop
    return out


def _ranges(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for every c in counts, concatenated."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)


def _finalise(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads every input bit over all 64 output bits."""
    values = values ^ (values >> np.uint64(30))
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _odd_constants(count: int, seed: int, purpose: str) -> np.ndarray:
    values = [xxhash.xxh64_intdigest(f"{purpose}:{i}".encode(), seed) | 1 for i in range(count)]
    return np.array(values, dtype=np.uint64)


def _hash_functions(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a = _odd_constants(num_perm, seed, "a")
    b = np.array(
        [xxhash.xxh64_intdigest(f"b:{i}".encode(), seed) for i in range(num_perm)], dtype=np.uint64
    )
    return a, b


def band_keys(signatures: np.ndarray, threshold: float) -> np.ndarray:
    """The LSH bucket of every row in every band (`lsh_bands` at `threshold`).

    Returns:
        uint64 array of shape (bands, n): row i falls in bucket (b, keys[b, i]) of band b.
    """
    signatures = np.asarray(signatures).astype(np.uint64, copy=False)
    n, num_perm = signatures.shape
    bands, rows = lsh_bands(num_perm, threshold)
    weights = _odd_constants(rows, 0, "band")
    keys = np.empty((bands, n), dtype=np.uint64)
    for band in range(bands):
        block = signatures[:, band * rows : (band + 1) * rows]
        keys[band] = _finalise((block * weights).sum(axis=1, dtype=np.uint64))
    return keys


def bucket_pairs(
    rows: np.ndarray, new_bucket: np.ndarray, max_candidates: int = MAX_CANDIDATES
) -> tuple[np.ndarray, np.ndarray]:
    """The (later, earlier) candidate pairs of some band buckets, repeats included.

    Args:
        rows: row numbers, bucket after bucket, each bucket's rows in input order.
        new_bucket: True where a bucket starts in `rows`.
        max_candidates: earlier rows of its bucket each row is paired with, besides the
            bucket's first row.
    """
    count = rows.shape[0]
    index = np.arange(count, dtype=np.int64)
    bucket_start = np.maximum.accumulate(np.where(new_bucket, index, 0))
    rank = index - bucket_start
    later, earlier = [], []
    for back in range(1, max_candidates + 1):
        at = index[rank >= back]
        later.append(rows[at])
        earlier.append(rows[at - back])
    deep = index[rank > max_candidates]
    later.append(rows[deep])
    earlier.append(rows[bucket_start[deep]])
    return np.concatenate(later), np.concatenate(earlier)


def settle(flags: bytearray | list[bool], later: np.ndarray, earlier: np.ndarray) -> None:
    """Drops each `later` row of a confirmed near-duplicate pair whose `earlier` row is kept.

    Pairs are settled in input order of their later row, so a row's earlier partners are final
    when it is reached. `flags` (True: dropped) holds every row the pairs name and is updated in
    place; pairs may repeat.
    """
    order = np.lexsort((earlier, later))
    for row, partner in zip(later[order].tolist(), earlier[order].tolist(), strict=True):
        if not flags[row] and not flags[partner]:
            flags[row] = True


def pair_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Share of equal positions of two stacks of signatures, row by row."""
    equal: np.ndarray = left == right
    return equal.mean(axis=1)


def _candidate_pairs(
    signatures: np.ndarray, threshold: float, max_candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique (later, earlier) row pairs that share an LSH band bucket."""
    n = signatures.shape[0]
    pairs = []
    for keys in band_keys(signatures, threshold):
        order = np.argsort(keys, kind="stable")  # rows of a bucket stay in input order
        sorted_keys = keys[order]
        new_bucket = np.empty(n, dtype=bool)
        new_bucket[0] = True
        new_bucket[1:] = sorted_keys[1:] != sorted_keys[:-1]
        if new_bucket.all():
            continue
        pairs.append(np.stack(bucket_pairs(order, new_bucket, max_candidates)))
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    joined = np.concatenate(pairs, axis=1)
    unique = np.unique(joined[0] * n + joined[1])
    return unique // n, unique % n


def _similarity(signatures: np.ndarray, later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Share of equal signature positions for each pair, computed in bounded chunks."""
    out = np.empty(later.shape[0], dtype=np.float64)
    step = max(_CHUNK_CELLS // signatures.shape[1], 1)
    for lo in range(0, later.shape[0], step):
        hi = lo + step
        out[lo:hi] = pair_similarity(signatures[later[lo:hi]], signatures[earlier[lo:hi]])
    return out

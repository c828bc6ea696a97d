"""Dedup keeps the first of every exact or near-duplicate group, deterministically."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.verify import dedup
from factory.verify.dedup import (
    dedup_keys,
    duplicate_mask,
    exact_key,
    exact_keys,
    lsh_bands,
    minhash_signatures,
    normalise,
)

WORDS = [f"w{i}" for i in range(5000)]


def unrelated_texts(count: int, length: int = 120, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=length)) for _ in range(count)]


def jaccard(a: str, b: str, k: int = 5) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = normalise(text).split()
        return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_exact_key_ignores_case_and_spacing_only():
    assert exact_key("DTI is  43.1%\n") == exact_key("dti is 43.1%")
    assert exact_key("DTI is 43.1%") != exact_key("DTI is 43.2%")
    assert exact_keys(["a", "A ", "b"]).tolist()[:2] == [exact_key("a")] * 2


# Case and whitespace rules beyond ASCII: non-breaking and ideographic spaces, line and
# paragraph separators, NEL, and letters whose lower case differs in length or script.
MESSY = st.text(
    st.sampled_from(list("aZ9$. \t\n\r\x0b\x1c\x85\xa0\u2003\u2028\u3000\u0130\u00c9\u03a3\u00df")),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=12))
def test_batch_keys_equal_the_keys_of_the_normalised_texts(texts):
    assert exact_keys(texts).tolist() == [exact_key(text) for text in texts]
    normalised = [normalise(text) for text in texts]
    assert (minhash_signatures(texts) == minhash_signatures(normalised)).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(MESSY, max_size=12), st.integers(1, 80), st.integers(1, 6))
def test_dedup_keys_are_the_exact_keys_and_the_signatures(texts, num_perm, shingle):
    keys, signatures = dedup_keys(texts, num_perm=num_perm, shingle=shingle, seed=3)
    assert keys.dtype == np.uint64
    assert keys.tolist() == exact_keys(texts).tolist()
    expected = minhash_signatures(texts, num_perm=num_perm, shingle=shingle, seed=3)
    assert signatures.shape == expected.shape
    assert (signatures == expected).all()


def test_dedup_keys_do_not_depend_on_the_chunking(monkeypatch):
    texts = unrelated_texts(40, seed=8)
    texts[20:20] = ["", "short"]
    keys, signatures = dedup_keys(texts)
    monkeypatch.setattr(dedup, "_CHUNK_CHARS", 3000)  # a few texts per chunk
    chunked_keys, chunked = dedup_keys(texts)
    assert keys.tolist() == chunked_keys.tolist() == exact_keys(texts).tolist()
    assert (chunked == signatures).all()


def test_signatures_have_the_documented_shape_and_range():
    signatures = minhash_signatures(["one two three four five six", "", "short"], num_perm=16)
    assert signatures.shape == (3, 16)
    assert signatures.dtype == np.uint64
    assert (signatures[0] < 2**32).all()
    assert (signatures[1] == 2**32).all()  # no words
    assert (signatures[2] < 2**32).all()  # shorter than a shingle: still one shingle


def test_signatures_estimate_jaccard_similarity():
    base = unrelated_texts(1, length=300, seed=1)[0].split()
    variant = list(base)
    for position in range(0, 300, 20):  # 15 changed words
        variant[position] = "changed"
    a, b = " ".join(base), " ".join(variant)
    signatures = minhash_signatures([a, b], num_perm=256)
    estimate = (signatures[0] == signatures[1]).mean()
    assert abs(estimate - jaccard(a, b)) < 0.1


def test_signatures_do_not_depend_on_the_batch_or_the_process():
    texts = unrelated_texts(3, seed=2)
    together = minhash_signatures(texts, seed=5)
    alone = minhash_signatures(texts[1:2], seed=5)
    assert (together[1] == alone[0]).all()
    code = (
        "from factory.verify.dedup import minhash_signatures;"
        f"print(minhash_signatures({texts!r}, seed=5).sum(axis=1).tolist())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert other.stdout.strip() == str(together.sum(axis=1).tolist())


def test_signatures_do_not_depend_on_the_chunking(monkeypatch):
    texts = unrelated_texts(40, seed=8)
    texts[20:20] = ["", "short"]
    whole = minhash_signatures(texts)
    monkeypatch.setattr(dedup, "_CHUNK_CHARS", 3000)  # a few texts per chunk
    monkeypatch.setattr(dedup, "_CHUNK_CELLS", 64 * 50)  # less than one text's shingles
    assert (minhash_signatures(texts) == whole).all()


def test_the_seed_selects_the_hash_functions():
    texts = unrelated_texts(2, seed=3)
    assert (minhash_signatures(texts, seed=1) != minhash_signatures(texts, seed=2)).any()


def test_exact_duplicates_keep_the_first_occurrence():
    texts = ["alpha beta", "gamma", "Alpha  Beta", "delta", "gamma", "alpha beta"]
    drop = duplicate_mask(exact_keys(texts))
    assert drop.tolist() == [False, False, True, False, True, True]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=200))
def test_duplicate_mask_keeps_exactly_one_of_each_exact_group(groups):
    keys = np.array(groups, dtype=np.uint64)
    drop = duplicate_mask(keys)
    kept = keys[~drop]
    assert sorted(kept.tolist()) == sorted(set(groups))
    first = {value: groups.index(value) for value in set(groups)}
    assert sorted(first.values()) == np.flatnonzero(~drop).tolist()


def test_a_copy_with_one_changed_word_is_found_among_5000_unrelated_texts():
    # One changed word alters 5 of 296 shingles: Jaccard 0.967, so the 64-position estimate
    # clears 0.9 with a wide margin. (In a 120-word text the same change gives Jaccard 0.92,
    # which the estimate puts at or above 0.9 only about three times in four.)
    texts = unrelated_texts(5000, length=300, seed=4)
    original = texts[1234].split()
    original[150] = "different"
    texts.append(" ".join(original))
    drop = duplicate_mask(exact_keys(texts), minhash_signatures(texts), threshold=0.9)
    assert np.flatnonzero(drop).tolist() == [5000]


def test_near_duplicates_below_the_threshold_are_kept():
    base = unrelated_texts(1, length=100, seed=5)[0].split()
    variant = list(base)
    for position in range(0, 100, 10):  # 10 of 100 words: Jaccard about 0.6
        variant[position] = "changed"
    texts = [" ".join(base), " ".join(variant)]
    assert jaccard(*texts) < 0.7
    drop = duplicate_mask(exact_keys(texts), minhash_signatures(texts), threshold=0.9)
    assert not drop.any()


def test_a_near_duplicate_of_a_dropped_row_is_kept_when_no_kept_row_is_near():
    # b is within the threshold of a, c of b, but c is not of a: b is dropped, c kept.
    signatures = np.zeros((3, 64), dtype=np.uint64)
    signatures[1, :6] = 1  # a~b: 58/64 = 0.906
    signatures[2, :12] = 1  # b~c: 58/64, a~c: 52/64 = 0.81
    signatures[2, 6:12] = 2
    keys = np.arange(3, dtype=np.uint64)
    assert duplicate_mask(keys, signatures, threshold=0.9).tolist() == [False, True, False]


def test_copies_are_found_when_template_texts_crowd_the_band_buckets():
    # Rows share two thirds of their shingles (Jaccard about 0.5 between any two), so many rows
    # fall into the same band buckets; each row is compared with only a few of them, yet each
    # copy still meets its original and no unrelated row is dropped.
    rng = np.random.default_rng(6)

    def row() -> list[str]:
        words = list(WORDS[:300])
        for slot in range(0, 300, 15):
            words[slot] = str(rng.integers(10**9))
        return words

    rows = [row() for _ in range(2000)]
    copy_a, copy_b = list(rows[10]), list(rows[1500])
    copy_a[100], copy_b[200] = "changed", "changed"
    texts = [" ".join(words) for words in [*rows, copy_a, copy_b]]
    signatures = minhash_signatures(texts)
    _, rows_per_band = lsh_bands(64, 0.9)
    _, crowd = np.unique(signatures[:, :rows_per_band], axis=0, return_counts=True)
    assert crowd.max() > 20  # far more than the rows each row is compared with
    drop = duplicate_mask(exact_keys(texts), signatures, threshold=0.9)
    assert np.flatnonzero(drop).tolist() == [2000, 2001]


def test_signatures_stored_as_int64_give_the_same_mask():
    texts = unrelated_texts(50, seed=7)
    texts += texts[:5]
    keys, signatures = exact_keys(texts), minhash_signatures(texts)
    expected = duplicate_mask(keys, signatures)
    assert expected.sum() == 5
    assert (duplicate_mask(keys.astype(np.int64), signatures.astype(np.int64)) == expected).all()


@pytest.mark.parametrize(("threshold", "rows"), [(0.9, 7), (0.8, 5), (0.5, 2)])
def test_lsh_bands_reach_the_target_recall_at_the_threshold(threshold, rows):
    bands, found_rows = lsh_bands(64, threshold)
    assert found_rows == rows
    assert 1 - (1 - threshold**found_rows) ** bands >= 0.99


def test_empty_inputs():
    assert minhash_signatures([]).shape == (0, 64)
    assert duplicate_mask(np.empty(0, dtype=np.uint64), np.empty((0, 64))).tolist() == []

"""A shard's generator is numpy's for its seed words (seed, shard, stream), by either path."""

import numpy as np
import pytest

from factory.domains.base import shard_rng

WORDS = [
    (0, 0, 0),
    (7, 123, 4),
    (2**32 - 1, 2**32 - 1, 2**32 - 1),  # the largest words the array path takes
    (2**32, 5, 1),  # a seed of two words: the list path
    (3, 2**40 + 9, 0),
    (12345678901234567890, 0, 2),
]


@pytest.mark.parametrize("words", WORDS)
def test_the_shard_generator_is_numpys_for_the_seed_words(words):
    ours = shard_rng(*words)
    reference = np.random.default_rng(np.random.SeedSequence(list(words)))
    assert ours.bit_generator.state == reference.bit_generator.state
    assert np.array_equal(ours.random(8), reference.random(8))


def test_neighbouring_shards_and_streams_draw_apart():
    draws = {tuple(shard_rng(0, shard, stream).integers(0, 2**62, 4)) for shard in range(3)
             for stream in range(3)}  # fmt: skip
    assert len(draws) == 9

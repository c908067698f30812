"""The extra training set's negatives: nothing the network must read as a 1 is taught as "not a digit"."""

from __future__ import annotations

import numpy as np
import pytest

import model
import synthetic
from recognizer.mnist import NOT_A_DIGIT


def test_mnist_ones_are_one_like_and_other_digits_rarely(mnist_test):
    images, labels = mnist_test
    ones = [synthetic.one_like(images[i] / 255.0) for i in np.flatnonzero(labels == 1)[:300]]
    others = [synthetic.one_like(images[i] / 255.0) for i in np.flatnonzero(labels != 1)[:900]]
    assert np.mean(ones) >= 0.9, np.mean(ones)
    assert np.mean(others) <= 0.05, np.mean(others)


@pytest.mark.parametrize("angle", [0, 10, 25])
def test_a_bar_near_vertical_is_one_like_and_a_flat_one_is_not(angle):
    ink = synthetic.stroke_digit("1", width=18, transparent=False)  # black vertical stroke on white
    bar = 1.0 - np.asarray(ink.convert("L").rotate(angle, fillcolor=255), np.float32) / 255.0
    assert synthetic.one_like(bar)
    flat = 1.0 - np.asarray(ink.convert("L").rotate(70, fillcolor=255), np.float32) / 255.0
    assert not synthetic.one_like(flat)


@pytest.mark.parametrize("kind", synthetic.NON_DIGIT_KINDS)
def test_no_negative_of_any_kind_is_a_bar_near_vertical(kind, mnist_test):
    rng = np.random.default_rng(5)
    marks = [synthetic.non_digit(kind, rng, mnist_test) for _ in range(25)]
    assert not any(synthetic.one_like(mark) for mark in marks)


def test_the_extra_set_drops_one_like_negatives_but_keeps_ones(mnist_test):
    ones = mnist_test[0][mnist_test[1] == 1][:5]
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 12:16] = 255  # a vertical bar labelled "not a digit", as a grid line's remains in a cell would be
    dash = np.zeros((28, 28), np.uint8)
    dash[12:16, 4:24] = 255
    x = np.concatenate([ones, bar[None], dash[None]])
    y = np.array([1] * 5 + [NOT_A_DIGIT, NOT_A_DIGIT], np.uint8)
    kept_x, kept_y = model._without_one_like_negatives(x, y)
    assert list(kept_y) == [1] * 5 + [NOT_A_DIGIT]
    assert np.array_equal(kept_x[-1], dash)

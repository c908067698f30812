"""The extra training set's negatives: nothing the network must read as a 1 is taught as "not a digit"."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import datasets
from recognizer.mnist import NOT_A_DIGIT
from synth.digits import SLANT, slanted_digit, stroke_digit, styled_digit
from synth.ink import ONE_TILT, one_like, slant
from synth.labels import pipeline_samples
from synth.nondigits import NON_DIGIT_KINDS, non_digit
from synth.scenes import amount_scene, cell_scene, rephotograph
from training import extra
from training.cells import realworld_cell_samples


def test_mnist_ones_are_one_like_and_other_digits_rarely(mnist_test):
    images, labels = mnist_test
    ones = [one_like(images[i] / 255.0) for i in np.flatnonzero(labels == 1)[:300]]
    others = [one_like(images[i] / 255.0) for i in np.flatnonzero(labels != 1)[:900]]
    assert np.mean(ones) >= 0.9, np.mean(ones)
    assert np.mean(others) <= 0.05, np.mean(others)


@pytest.mark.parametrize("angle", [0, 10, 25, 40])
def test_a_bar_near_vertical_is_one_like_and_a_flat_one_is_not(angle):
    ink = stroke_digit("1", width=18, transparent=False)  # black vertical stroke on white
    bar = 1.0 - np.asarray(ink.convert("L").rotate(angle, fillcolor=255), np.float32) / 255.0
    assert one_like(bar)
    flat = 1.0 - np.asarray(ink.convert("L").rotate(70, fillcolor=255), np.float32) / 255.0
    assert not one_like(flat)


@pytest.mark.parametrize("kind", NON_DIGIT_KINDS)
def test_no_negative_of_any_kind_is_a_bar_near_vertical(kind, mnist_test):
    rng = np.random.default_rng(5)
    marks = [non_digit(kind, rng, mnist_test) for _ in range(25)]
    assert not any(one_like(mark) for mark in marks)


def test_the_extra_set_drops_one_like_negatives_but_keeps_ones(mnist_test):
    ones = mnist_test[0][mnist_test[1] == 1][:5]
    bar = np.zeros((28, 28), np.uint8)
    bar[4:24, 12:16] = 255  # a vertical bar labelled "not a digit", as a grid line's remains in a cell would be
    dash = np.zeros((28, 28), np.uint8)
    dash[12:16, 4:24] = 255
    x = np.concatenate([ones, bar[None], dash[None]])
    y = np.array([1] * 5 + [NOT_A_DIGIT, NOT_A_DIGIT], np.uint8)
    kept_x, kept_y = extra._without_one_like_negatives(x, y)
    assert list(kept_y) == [1] * 5 + [NOT_A_DIGIT]
    assert np.array_equal(kept_x[-1], dash)


def test_a_real_cell_photographed_again_keeps_its_digit_and_size():
    images, labels, _ = datasets.load_realworld("sudoku_cells_train")
    i = int(np.flatnonzero(labels == "7")[0])
    rng = np.random.default_rng(0)
    with Image.open(io.BytesIO(images[i])) as original:
        size = original.size
    for _ in range(3):
        again = rephotograph(images[i], rng)
        with Image.open(io.BytesIO(again)) as image:
            assert image.format == "JPEG"
            assert all(abs(a - b) <= 0.2 * b for a, b in zip(image.size, size))
    samples, targets = realworld_cell_samples(rng, cells=([images[i]], ["7"]), rephotos=3)
    assert list(targets).count(7) >= 3  # the digit is found in the original and in most new photos


def test_styled_ones_lean_forward_further_than_mnist_writers_do(mnist_test):
    # Cheque amounts hold 1s slanted like "/" with a flag, read as 7s (or "not a digit") by a network taught only
    # upright styled 1s: they must lean past MNIST's 95th percentile, but not past a 1's limit (ONE_TILT).
    rng = np.random.default_rng(11)
    mnist_lean = np.percentile([slant(image / 255.0) for image in mnist_test[0][:2000]], [5, 95])
    ones = np.array([slant(styled_digit("1", rng)) for _ in range(300)])
    assert np.percentile(ones, 95) >= mnist_lean[1], (np.percentile(ones, 95), mnist_lean)
    assert np.percentile(ones, 5) >= mnist_lean[0] - 0.15  # and they lean back no further than MNIST's do
    assert ones.max() <= np.tan(ONE_TILT) + 0.15  # nor lie down into a line


def test_slanted_digits_lean_as_a_forward_hand_does_and_keep_their_shape(mnist_test):
    rng = np.random.default_rng(3)
    images, labels = mnist_test
    leans, ones = [], []
    for i in range(200):
        ink = slanted_digit(images[i], rng)
        leans.append(slant(ink))
        if labels[i] == 1:
            ones.append(one_like(ink))  # a 1 leaned to 45 degrees is still a 1, never a line
    leans = np.array(leans)
    forward = leans > 0
    assert 0.75 <= forward.mean() <= 0.95  # BACK_SLANT_SHARE lean back
    assert np.all((leans[forward] > SLANT[0] - 0.1) & (leans[forward] < SLANT[1] + 0.1)), leans
    assert len(ones) >= 15 and np.mean(ones) >= 0.9


def test_slant_is_positive_for_a_forward_lean_and_zero_for_an_upright_bar():
    upright = np.zeros((20, 20), np.float32)
    upright[2:18, 9:11] = 1.0
    forward = np.zeros((20, 20), np.float32)
    for row in range(2, 18):  # the top to the right, one pixel across for two down
        forward[row, 14 - (row - 2) // 2 : 16 - (row - 2) // 2] = 1.0
    assert slant(upright) == pytest.approx(0.0, abs=1e-9)
    assert slant(forward) == pytest.approx(0.5, abs=0.05)
    assert slant(np.zeros((5, 5))) == 0.0


def test_pencil_candidates_are_never_taught_as_not_a_digit(mnist_test):
    # Tiny pencil digits, normalised to MNIST's box, are well-formed digits: taught as "not a digit" (the old
    # labels) they made real digits "not a digit". A span that is one candidate alone is left out.
    rng = np.random.default_rng(5)
    scenes = [cell_scene(rng, mnist_test, "candidates") for _ in range(40)]
    negatives = sum(int((pipeline_samples(*scene, rng)[1] == NOT_A_DIGIT).sum()) for scene in scenes)
    candidates = sum(len(labels) for _, _, labels in scenes)
    assert candidates >= 40
    assert negatives <= 0.2 * candidates, (negatives, candidates)  # left: grid lines' remains, two digits as one
    images, labels, _ = datasets.load_realworld("sudoku_cells_train")
    cells = [images[i] for i in np.flatnonzero(labels == "candidates")[:3]]
    samples, targets = realworld_cell_samples(rng, cells=(cells, ["candidates"] * 3), rephotos=1)
    assert len(targets) == 0


def test_blank_real_cells_are_still_taught_as_not_a_digit():
    images, labels, _ = datasets.load_realworld("sudoku_cells_train")
    cells = [images[i] for i in np.flatnonzero(labels == "blank")[:80]]  # most leave nothing once lines are out
    rng = np.random.default_rng(1)
    samples, targets = realworld_cell_samples(rng, cells=(cells, ["blank"] * 80), rephotos=0)
    assert len(targets) >= 1 and set(targets.tolist()) == {NOT_A_DIGIT}


def test_amounts_are_taught_with_each_span_labelled_by_the_digit_it_holds(mnist_test):
    rng = np.random.default_rng(3)
    scenes = [amount_scene(rng, mnist_test) for _ in range(30)]
    taught = digits = 0
    for data, owner, labels in scenes:
        images, targets = pipeline_samples(data, owner, labels, rng)
        positives = targets[targets != NOT_A_DIGIT]
        assert set(positives.tolist()) <= set(labels)
        taught += min(len(positives), len(labels))
        digits += len(labels)
    assert taught >= 0.8 * digits, (taught, digits)

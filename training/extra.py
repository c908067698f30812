"""The extra training set: what real photos, scans and canvases hold and MNIST lacks, made part by part.

Each part of ``EXTRA_COUNTS`` is made by its builder in ``EXTRA_BUILDERS`` (name -> builder), in seeded chunks over
a process pool, so the set depends on the seed only.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

import numpy as np

from datasets import load_realworld
from recognizer.mnist import IMAGE_SIZE, NOT_A_DIGIT
from synth.digits import slanted_digit, styled_digit
from synth.fonts import printed_digit
from synth.ink import one_like, pen_width
from synth.labels import ink_to_input, pipeline_samples
from synth.nondigits import NON_DIGIT_KINDS, non_digit
from synth.scenes import amount_scene, cell_scene
from training.cells import realworld_cell_samples
from training.network import SEED

# Samples per unit of ``extra_scale`` (the committed model: scale 1). Scenes give several samples each.
EXTRA_COUNTS = {
    "non-digits": 36_000,
    "printed digits": 14_000,
    "styled digits": 8_000,
    "slanted digits": 8_000,
    "cell scenes": 16_000,
    "amount scenes": 7_000,
}
CELL_CONTENTS = ("digit", "digit", "digit", "blank", "blank", "candidates")


def _one(sample: np.ndarray | None, label: int):
    """One normalised mark as a part's item: (x (1, 28, 28), [label]), or None when it has no ink."""
    return None if sample is None else (sample[None], [label])


def _non_digit(i: int, rng: np.random.Generator, mnist_digits):
    """A mark that is not a digit, the kinds of ``NON_DIGIT_KINDS`` in turn."""
    kind = NON_DIGIT_KINDS[i % len(NON_DIGIT_KINDS)]
    return _one(ink_to_input(non_digit(kind, rng, mnist_digits)), NOT_A_DIGIT)


def _printed_digit(i: int, rng: np.random.Generator, mnist_digits):
    """A digit printed in a training font, 0..9 in turn."""
    label = i % 10
    return _one(ink_to_input(printed_digit(label, rng)), label)


def _styled_digit(i: int, rng: np.random.Generator, mnist_digits):
    """A 1, 4, 7 or 9 (in turn) in a European hand MNIST lacks."""
    label = int("1479"[i % 4])
    return _one(ink_to_input(styled_digit(str(label), rng)), label)


def _slanted_digit(i: int, rng: np.random.Generator, mnist_digits):
    """An MNIST training digit leaned as a forward (or a left) hand writes it, with another pen width."""
    images, labels = mnist_digits
    pick = int(rng.integers(len(images)))
    label = int(labels[pick])
    return _one(ink_to_input(pen_width(slanted_digit(images[pick], rng), rng)), label)


def _cell_scene(i: int, rng: np.random.Generator, mnist_digits):
    """Every span of a Sudoku cell photo, labelled (the contents of ``CELL_CONTENTS`` in turn)."""
    return pipeline_samples(*cell_scene(rng, mnist_digits, CELL_CONTENTS[i % len(CELL_CONTENTS)]), rng)


def _amount_scene(i: int, rng: np.random.Generator, mnist_digits):
    """Every span of a handwritten amount's photo, labelled."""
    return pipeline_samples(*amount_scene(rng, mnist_digits), rng)


def _item_by_item(make):
    """A builder that makes ``count`` items with ``make(i, rng, mnist_digits)`` -> (x, y) or None."""

    def build(count: int, rng: np.random.Generator, mnist_digits) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for i in range(count):
            made = make(i, rng, mnist_digits)
            if made is not None:
                xs.append(made[0])
                ys.append(made[1])
        if not xs:
            return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
        return np.concatenate(xs), np.concatenate(ys).astype(np.uint8)

    return build


def _real_cells(count: int, rng: np.random.Generator, cells) -> tuple[np.ndarray, np.ndarray]:
    """A chunk of ``sudoku_cells_train``: ``cells`` = (image bytes, labels) of ``count`` cells."""
    return realworld_cell_samples(rng, cells=cells)


# Part name -> builder(count, rng, data) -> (x uint8 (N, 28, 28), y uint8 (N,)); ``data`` is MNIST's training
# (images, labels), or a chunk's real cells for "sudoku_cells_train".
EXTRA_BUILDERS = {
    "non-digits": _item_by_item(_non_digit),
    "printed digits": _item_by_item(_printed_digit),
    "styled digits": _item_by_item(_styled_digit),
    "slanted digits": _item_by_item(_slanted_digit),
    "cell scenes": _item_by_item(_cell_scene),
    "amount scenes": _item_by_item(_amount_scene),
    "sudoku_cells_train": _real_cells,
}


def _extra_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """Make one chunk of the extra training set (a process pool's unit of work): (x uint8, y uint8)."""
    part, count, seed, data = args
    rng = np.random.default_rng(seed)
    return _without_one_like_negatives(*EXTRA_BUILDERS[part](count, rng, data))


def _without_one_like_negatives(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop "not a digit" samples that are bars near vertical (``synth.ink.one_like``): to the network they are 1s.

    Scenes make them (a grid line's remains in a cell, a slash between digits); taught as negatives they
    made real 1s "not a digit" (49 of USPS's 264 1s with the first 11-class model).
    """
    keep = np.array([label != NOT_A_DIGIT or not one_like(image / 255.0) for image, label in zip(x, y)], bool)
    return x[keep], y[keep]


def extra_training_set(
    mnist_digits, scale: float = 1.0, seed: int = SEED, workers: int | None = None, realworld: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Make the training images MNIST lacks: (x uint8 (N, 28, 28), ink = 255; y uint8 (N,), 10 = not a digit).

    ``mnist_digits``: (images, labels) of MNIST's training split (partial digits and handwritten scenes are
    made from them; never from the test set). ``scale`` multiplies ``EXTRA_COUNTS``. Scenes go through the
    request path's own segmentation (``synth.labels.pipeline_samples``). With ``realworld``, the trainable
    real set ``sudoku_cells_train`` is added (``training.cells.realworld_cell_samples``) when present. Work is
    split into seeded chunks over ``workers`` processes (default: the CPU count), so the result depends on the
    seed only.
    """
    jobs = []
    for p, (part, base) in enumerate(EXTRA_COUNTS.items()):
        count = max(1, round(base * scale))
        chunk = max(1, min(500, count))
        for c, start in enumerate(range(0, count, chunk)):
            jobs.append((part, min(chunk, count - start), seed * 1000 + p * 100_000 + c, mnist_digits))
    if realworld:
        try:
            images, labels, _ = load_realworld("sudoku_cells_train")
            keep = max(1, round(len(images) * min(1.0, scale)))  # a small scale (a test) takes a few cells
            images, labels = images[:keep], labels[:keep]
            for c, start in enumerate(range(0, len(images), 250)):
                cells = (images[start : start + 250], labels[start : start + 250])
                jobs.append(("sudoku_cells_train", len(cells[0]), seed * 1000 + 900_000 + c, cells))
        except FileNotFoundError:
            print("sudoku_cells_train not found: training without it", file=sys.stderr)
    workers = workers or os.cpu_count() or 1
    total = sum(j[1] for j in jobs)
    results, done = [], 0
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result, job in zip(pool.imap(_extra_chunk, jobs), jobs):
                results.append(result)
                done += job[1]
                print(f"\rextra training set: {done:,}/{total:,} items", end="", file=sys.stderr, flush=True)
    else:
        for job in jobs:
            results.append(_extra_chunk(job))
            done += job[1]
            print(f"\rextra training set: {done:,}/{total:,} items", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])

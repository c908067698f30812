"""Training lines that hold no number, labelled with the empty text (CTC reads it as all blanks).

A reader trained only on lines that hold a number has never been shown a line that holds none: a scrap of a Sudoku
cell's grid, wide enough to be sent to it, was read "39" or "2834492" (docs/experiments.md, 2026-12-06, eighth
session). These lines are the candidate lines found, as served, in

- synthetic no-number scenes: blank Sudoku cells (``synth.scenes.cell_scene``) and, on photographed paper, the
  grid-like marks of ``synth.nondigits`` (``EMPTY_MARKS``), half each;
- the blank cells of ``sudoku_cells_train`` whose SHA-1 (of the file's bytes) starts with an even byte, about half:
  the other half is kept out of training, to measure the blanks on (``held_out_cell``).

Marks shaped like a stroke (dots, blobs, scribbles) are left out: taught as nothing, they made drawn strokes likelier
to be nothing (the ninth session's run read canvas numbers 91.6 -> 90.8%); so are punctuation (a lone "." or "-"
is a separator the reader may rightly read), letters and partial digits (too close to a digit).
"""

from __future__ import annotations

import hashlib

import numpy as np

from recognizer.decode import PreprocessingError, decode_image
from recognizer.finer import served_lines
from synth.nondigits import non_digit
from synth.scenes import camera, cell_scene, paper
from training.string_data import to_uint8

# The marks of synth.nondigits taught as no number: what a blank cell's grid and a form's rules leave in a line.
EMPTY_MARKS = ("line", "grid crossing", "box corner", "border", "edge band")


def held_out_cell(data: bytes) -> bool:
    """Whether a cell of ``sudoku_cells_train`` (its file's bytes) is kept out of the string reader's training lines
    (a blank cell's no-number lines, a digit cell's composed strings, ``training.cell_strings``), to measure the
    reader on: the first byte of its SHA-1 is odd (about half of the cells, the same on any machine)."""
    return hashlib.sha1(data).digest()[0] % 2 == 1


def no_number_scene(rng: np.random.Generator, index: int) -> bytes:
    """The ``index``-th synthetic scene that holds no number (JPEG bytes): a blank Sudoku cell for an even index,
    else one of ``EMPTY_MARKS`` on photographed paper, in a frame up to twice as wide as tall."""
    if index % 2 == 0:
        return cell_scene(rng, None, "blank")[0]
    ink = non_digit(str(rng.choice(EMPTY_MARKS)), rng)
    height, width = ink.shape
    pad_y, pad_x = int(rng.integers(2, height // 2 + 3)), int(rng.integers(2, width + 3))
    return camera(paper(np.pad(ink, ((pad_y, pad_y), (pad_x, pad_x))), rng), rng)


def _lines_of(data: bytes, finer: bool) -> list[np.ndarray]:
    """Every candidate line of an image as served (uint8 (32, W) each); none where it has no ink to find."""
    try:
        _, lines = served_lines(decode_image(data), finer)
    except PreprocessingError:
        return []
    return [to_uint8(line.image) for line in lines]


def empty_lines(count: int, seed: int, finer: bool = False, data_dir=None, log=None) -> tuple[list, list]:
    """The no-number training lines: every candidate line of ``count`` synthetic scenes (``no_number_scene``, from
    ``seed``) and of the blank cells of ``sudoku_cells_train`` not ``held_out_cell`` (none where that set is
    absent), found as served (``finer``: as ``recognizer.finer.served_lines`` finds them for a reader trained so).

    Returns (list of uint8 (32, W) lines, list of texts, each ""). ``log``: called with a line of progress."""
    import datasets

    rng = np.random.default_rng(seed)
    lines = [line for index in range(count) for line in _lines_of(no_number_scene(rng, index), finer)]
    from_scenes = len(lines)
    try:
        images, labels, _ = datasets.load_realworld("sudoku_cells_train", data_dir)
    except FileNotFoundError:
        images, labels = [], []
    blanks = [data for data, label in zip(images, labels) if label == "blank" and not held_out_cell(data)]
    for data in blanks:
        lines.extend(_lines_of(data, finer))
    if log:
        log(
            f"no-number lines: {from_scenes:,} from {count:,} scenes, {len(lines) - from_scenes:,} from "
            f"{len(blanks):,} blank cells"
        )
    return lines, [""] * len(lines)

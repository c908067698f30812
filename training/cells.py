"""Real Sudoku cells (``sudoku_cells_train``) mined through the request path's segmentation into training samples."""

from __future__ import annotations

import numpy as np

from datasets import load_realworld
from recognizer.decode import PreprocessingError, decode_image
from recognizer.mnist import IMAGE_SIZE, NOT_A_DIGIT
from recognizer.segment import segment
from synth.scenes import rephotograph

CELL_REPHOTOS = 2  # each real training cell is also read as this many new photos of it (synth.scenes.rephotograph)


def realworld_cell_samples(
    rng: np.random.Generator, data_dir=None, cells=None, rephotos: int = CELL_REPHOTOS
) -> tuple[np.ndarray, np.ndarray]:
    """Samples from ``sudoku_cells_train`` (real phone photos, trainable) as the pipeline sees them.

    Each cell is read as it is and ``rephotos`` more times as ``synth.scenes.rephotograph`` cuts and exposes
    it again. Blank cells: every span the segmentation proposes is "not a digit" (up to 3 a cell).
    Candidates cells are left out: their spans are small pencil digits of unknown value, well-formed digits
    once normalised, which taught as "not a digit" made real digits "not a digit". Digit cells: the span
    with the most ink whose centre lies in the cell's middle 70% is the digit; up to two spans that do not
    overlap it (the grid lines' remains) are "not a digit".
    ``cells``: (image bytes, labels) of some of its cells, instead of the whole set from ``data_dir``.
    Returns (x uint8 (N, 28, 28), y uint8 (N,)). Raises FileNotFoundError when the set is absent.
    """
    images, labels = cells if cells is not None else load_realworld("sudoku_cells_train", data_dir)[:2]
    shots = list(zip(images, labels))
    shots += [(rephotograph(data, rng), label) for data, label in shots for _ in range(rephotos)]
    xs, ys = [], []
    for data, label in shots:
        if label == "candidates":
            continue
        try:
            segmentation = segment(decode_image(data))
        except PreprocessingError:
            continue
        rendered = [(span, segmentation.render(*span)) for span in segmentation.spans()]
        height, width = segmentation.shape
        chosen = []
        if label.isdigit():

            def central(digit, height=height, width=width):
                x, y, w, h = digit.box
                return abs(x + w / 2 - width / 2) < 0.35 * width and abs(y + h / 2 - height / 2) < 0.35 * height

            candidates = [(float(d.image.sum()), span, d) for span, d in rendered if central(d)]
            if not candidates:
                continue
            _, best_span, best = max(candidates, key=lambda c: c[0])
            chosen.append((best.image, int(label)))
            others = [d for span, d in rendered if span[1] < best_span[0] or span[0] > best_span[1]]
        else:
            others = [d for _, d in rendered]
        for i in rng.permutation(len(others))[: 3 if not label.isdigit() else 2]:
            chosen.append((others[i].image, NOT_A_DIGIT))
        for image, target in chosen:
            xs.append(np.round(image * 255).astype(np.uint8))
            ys.append(target)
    if not xs:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
    return np.stack(xs), np.array(ys, np.uint8)

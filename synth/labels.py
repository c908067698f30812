"""Training labels from what the pipeline sees: a scene's spans labelled from its ink ownership, and one
mark's ink normalised as the request path normalises it.

``pipeline_samples`` runs a scene through the request path's own segmentation and labels every span it proposes:
the network trains on exactly what it will be asked to read.
"""

from __future__ import annotations

import numpy as np

from recognizer.decode import PreprocessingError, decode_image
from recognizer.mnist import IMAGE_SIZE, NOT_A_DIGIT
from recognizer.normalize import INK_THRESHOLD, to_mnist_box
from recognizer.segment import segment
from synth.ink import crop_ink

PURITY = 0.85  # a span is digit k when this share of its ink is k's ...
COVERAGE = 0.8  # ... and it holds this share of k's ink that the pipeline kept
AMBIGUOUS = (0.5, 0.8)  # spans between "clearly not k" and "clearly k" are left out of training


def pipeline_samples(
    data: bytes, owner: np.ndarray, labels: list[int | None], rng: np.random.Generator, max_negatives: int = 3
):
    """Run a scene through the request path's segmentation and label every span it proposes.

    ``owner``: int16 (H, W) of the scene, k + 1 where digit k's ink is, 0 for everything else (lines,
    separators, marks); ``labels``: the digits (None: a digit not to be taught either way, left out). A span
    whose kept ink is at least ``PURITY`` one digit's and holds ``COVERAGE`` of that digit's kept ink is that
    digit; one with no digit's ink, or a mix of two digits, or a piece of one, is "not a digit"
    (``NOT_A_DIGIT``); spans in between are left out. At most ``max_negatives`` negatives a scene, chosen at
    random. Returns (images uint8 (N, 28, 28), labels uint8).
    """
    try:
        segmentation = segment(decode_image(data))
    except PreprocessingError:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
    kept = np.zeros(len(labels) + 1, np.int64)
    unit_owners = []
    for unit in segmentation.units:
        tags = owner[unit.y0 : unit.y1, unit.x0 : unit.x1][unit.ink > INK_THRESHOLD]
        counts = np.bincount(tags, minlength=len(labels) + 1)
        unit_owners.append(counts)
        kept += counts
    positives, negatives = [], []
    for first, last in segmentation.spans():
        counts = sum(unit_owners[first : last + 1])
        total = counts.sum()
        if total == 0:
            continue
        top = int(np.argmax(counts[1:])) + 1 if len(counts) > 1 else 0
        purity = counts[top] / total if top else 0.0
        coverage = counts[top] / max(kept[top], 1) if top else 0.0
        if top and purity >= PURITY and coverage >= COVERAGE:
            if labels[top - 1] is not None:
                positives.append((first, last, labels[top - 1]))
        elif (not top or purity < AMBIGUOUS[0] or coverage < AMBIGUOUS[0]) or counts[0] > 0.5 * total:
            negatives.append((first, last, NOT_A_DIGIT))
        elif purity < AMBIGUOUS[1] and coverage < AMBIGUOUS[1]:
            negatives.append((first, last, NOT_A_DIGIT))
    if len(negatives) > max_negatives:
        negatives = [negatives[i] for i in rng.choice(len(negatives), max_negatives, replace=False)]
    chosen = positives + negatives
    images = [np.round(segmentation.render(first, last).image * 255).astype(np.uint8) for first, last, _ in chosen]
    if not images:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
    return np.stack(images), np.array([c for _, _, c in chosen], np.uint8)


def ink_to_input(ink: np.ndarray) -> np.ndarray | None:
    """Normalise one mark's ink as the pipeline does for a single mark: uint8 (28, 28), ink = 255.

    Returns None when no pixel is above ``INK_THRESHOLD`` (the request path would answer "no ink").
    """
    if not float(ink.max()) > INK_THRESHOLD:
        return None
    try:
        return np.round(to_mnist_box(crop_ink(ink, INK_THRESHOLD)) * 255).astype(np.uint8)
    except ZeroDivisionError:  # a mark that vanishes when scaled into the 20x20 box
        return None

"""How a drawing's line of handwriting is spaced before the string reader reads it (``recognizer.line``).

A drawing on the page holds nothing but what its writer drew, and how far apart and how narrow the digits are is the
writer's choice, not the number's: wide gaps are shortened (``kept_columns``), narrow digits widened (``stretch``).
A photo's line keeps its spacing: its ink is thresholded, so an empty stretch there may hold a faint separator.
"""

from __future__ import annotations

import numpy as np

# In a drawing (not a photo), an empty stretch between the line's marks is shortened to this share of the line's
# height: the synthetic lines the reader learns from space their characters at most about 0.45 of the height
# apart, and a number drawn with wider gaps on the page's wide canvas read a separator into each gap. A photo's
# ink is thresholded, so its empty stretch may hold a faint separator the threshold lost: photos keep their gaps.
MAX_BLANK = 0.5
BLANK_LEVEL = 0.05  # ink level a column must stay under to count as empty
# A drawing of narrow digits (a dozen written across a phone's canvas) is widened before it is read: its density,
# the runs of ink a row crosses per line height of width (about 1.3 for numbers of MNIST digits drawn on the canvas,
# 2.1 at the 99th percentile; 2.3-2.5 for zeros leaned 30-40 degrees and touching, which read right as they are; 4-6
# for MNIST digits written a fifth as wide as tall), is brought down to DENSE_TO where it is over DENSE, widening the
# line at most MAX_STRETCH times.
DENSE = 3.0
DENSE_TO = 1.3
MAX_STRETCH = 3.0
LONG = 1.5  # ... unless the line is shorter than LONG times its height (a few digits are not written squeezed), or
BARS = 1.5  # unless its rows' runs of ink are all about one pen wide (the 90th percentile of their lengths at most
# BARS times the median): 1s alone, which are narrow as written


def true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of True in a boolean (n,) array: (starts, ends), int64 arrays, each run [start, end)."""
    edges = np.diff(np.concatenate(([0], np.asarray(flags, np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def kept_columns(crop: np.ndarray, height: int) -> np.ndarray | None:
    """The columns of a line's crop (float32 (h, w)) to keep: every one, but of each empty stretch between marks
    only its first ``MAX_BLANK`` x ``height`` px; None where no stretch is longer. O(h * w)."""
    inked = (crop > BLANK_LEVEL).any(axis=0)
    longest = max(1, round(MAX_BLANK * height))
    starts, ends = true_runs(~inked)  # empty stretches
    long = ends - starts > longest
    if not long.any():
        return None
    keep = np.ones(crop.shape[1], bool)
    for start, end in zip(starts[long], ends[long]):
        keep[start + longest : end] = False
    return np.flatnonzero(keep)


def stretch(crop: np.ndarray) -> float:
    """How much wider a drawing's line of narrow digits is made (``DENSE``): 1.0 (unchanged) up to ``MAX_STRETCH``.

    ``crop``: float32 (h, w) ink of the line, cropped to it. O(h * w), and O(1) for a short line (a digit)."""
    if crop.shape[1] < LONG * crop.shape[0]:
        return 1.0  # a few digits are not written squeezed
    inked = crop > BLANK_LEVEL
    rows = int(np.count_nonzero(inked.any(axis=1)))
    if rows == 0:
        return 1.0
    padded = np.zeros((crop.shape[0], crop.shape[1] + 2), np.int8)
    padded[:, 1:-1] = inked
    edges = np.diff(padded, axis=1).ravel()
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)  # the runs of ink along the rows
    density = lengths.size / rows * crop.shape[0] / crop.shape[1]
    if density <= DENSE or np.percentile(lengths, 90) <= BARS * np.median(lengths):
        return 1.0  # not dense, or bars alone (a "11" written close): no digit there is too narrow
    return min(MAX_STRETCH, density / DENSE_TO)

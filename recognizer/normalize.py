"""Ink and MNIST-style normalisation: grey image -> ink map -> strokes -> (28, 28) digits.

    (H, W) grey, 1 = white --ink_map--> (H, W) ink, 1 = ink --find_strokes--> components
          --to_mnist_box--> (28, 28) float32 in [0, 1], ink = 1

The normalisation (``to_mnist_box``) follows how MNIST itself was made (LeCun, Cortes & Burges, "The MNIST
database of handwritten digits"): "The original black and white (bilevel) images from NIST were
size normalized to fit in a 20x20 pixel box while preserving their aspect ratio. The resulting
images contain grey levels as a result of the anti-aliasing technique used by the normalization
algorithm. The images were centered in a 28x28 image by computing the center of mass of the
pixels, and translating the image so as to position this point at the center of the 28x28 field."
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from recognizer.decode import NO_INK, EmptyImageError, TooMuchWorkError
from recognizer.mnist import DIGIT_BOX, IMAGE_SIZE, MNIST_CENTRE

INK_THRESHOLD = 0.25  # ink level (0..1) above which a pixel counts as part of a stroke
SPECK_FRACTION = 0.03  # components smaller than this share of the largest one are noise
# Photos of paper: a background this far from pure white or black (or uneven) is a photo, whose
# lighting is divided out (see _photo_ink); its noise and texture leave larger specks behind.
PHOTO_PAPER_LEVEL = 0.04
BORDER_UNIFORMITY = 0.6  # share of the border within 0.15 of its median for it to define the background
CORNER_SHARE = 0.125  # a corner square's side, a share of the shorter side (2 px of a 16 px scan)
PHOTO_SPECK_FRACTION = 0.12
# In a photo the paper's level says little about polarity: a dim shot of white paper is darker than mid-grey.
# The ink is what lies far from the paper, so the side (darker or lighter) whose INK_TAIL extreme share of
# pixels lies farther from the paper is the ink's; within POLARITY_MARGIN of a tie, the level decides.
INK_TAIL = 0.005
POLARITY_MARGIN = 1.25
ILLUMINATION_SIDE = 160  # the lighting is estimated on a copy this many pixels on its longer side
PAPER_CLOSING = 0.1  # share of the longer side: the closing that estimates the paper removes narrower strokes
# Component labelling joins runs of ink in a Python loop: at most this many runs (horizontal
# stretches of ink) are considered. A number drawn on a 1024 px image has at most a few tens of thousands;
# noise has hundreds of thousands. Past it: TooMuchWorkError (HTTP 422), before the loop.
MAX_RUNS = 150_000


def ink_map(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return the ink of a grey image, and whether it was read as a photo.

    ``grey``: float (H, W) in [0, 1]. Either polarity is accepted: the background level comes from
    ``_background_level``, so dark ink on light paper and light ink on a dark canvas both give
    ink = 1 (in a photo the ink's side of the paper decides, ``_dark_ink``: a dim photo of white paper is
    darker than mid-grey). A clean background (a canvas, a scan) is subtracted; a grey or uneven one (a photo of
    paper) goes through ``_photo_ink``.
    Returns float32 (H, W) in [0, 1], 1 = ink, 0 = background, and the photo flag.
    """
    grey = np.asarray(grey, dtype=np.float32)
    background = _background_level(grey)
    light_paper = background >= 0.5
    paper = min(background, 1.0 - background)  # the background's own ink level, at most 0.5
    if paper > PHOTO_PAPER_LEVEL and min(grey.shape) >= 32:
        return _photo_ink(grey if _dark_ink(grey, light_paper) else 1.0 - grey), True
    ink = 1.0 - grey if light_paper else grey
    return np.clip((ink - paper) * (1.0 / (1.0 - paper)), 0.0, 1.0), False


def _background_level(grey: np.ndarray) -> float:
    """Return the background's grey level: the border's when the border is uniform, else the corners', else the median.

    A thick digit can cover more than half of a tight crop (USPS zeros do), so the median of all
    pixels would be ink; the border of a drawing or a scan is background almost everywhere. Where the
    digit touches the border all round (a tight crop of a fat 0), the border is mixed, but a digit
    rarely reaches the corners: when three of the four corner squares (``CORNER_SHARE`` of the shorter
    side) agree within 0.15, their level is the background's. A photo whose border shows a desk around
    the paper, and corners that disagree, fall back to the median of a regular sample of about 1,000 pixels.
    """
    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    if ring.min() == ring.max():  # a drawing's or a scan's blank border: its level, without a median's sort
        return float(ring[0])
    level = float(np.median(ring))
    if np.mean(np.abs(ring - level) < 0.15) >= BORDER_UNIFORMITY:
        return level
    side = max(1, round(CORNER_SHARE * min(grey.shape)))
    corners = np.array(
        [
            np.median(grey[rows, cols])
            for rows in (slice(0, side), slice(-side, None))
            for cols in (slice(0, side), slice(-side, None))
        ]
    )
    level = float(np.median(corners))
    if np.sum(np.abs(corners - level) < 0.15) >= 3:
        return level
    return float(np.median(_sample(grey, 1024)))


def _sample(grey: np.ndarray, pixels: int) -> np.ndarray:
    """Return a regular sample of about ``pixels`` pixels of an image (every pixel of a smaller one)."""
    step = max(1, int(np.sqrt(grey.size / pixels)))
    return grey[::step, ::step]


def _dark_ink(grey: np.ndarray, light_paper: bool) -> bool:
    """Whether a photo's ink is darker than its paper.

    Paper is most of a photo, so its level is the median of a regular sample of about 65,000 pixels (the border,
    which ``_background_level`` prefers, may be half a grid line in a cell); the ink lies far from it: when the
    darkest ``INK_TAIL`` of the sample lies farther below the paper than the lightest lies above it (by
    ``POLARITY_MARGIN``), the ink is dark, and the other way round light; a near tie keeps what the
    background's level says (``light_paper``). Bounded by the sample for any size of photo.
    """
    low, paper, high = np.quantile(_sample(grey, 65536), [INK_TAIL, 0.5, 1.0 - INK_TAIL])
    darker, lighter = float(paper - low), float(high - paper)
    if darker > POLARITY_MARGIN * lighter:
        return True
    if lighter > POLARITY_MARGIN * darker:
        return False
    return light_paper


def _photo_ink(light: np.ndarray) -> np.ndarray:
    """Ink of a photo of paper (light paper, dark ink): lighting divided out, then Otsu's threshold.

    The paper's brightness (a lighting gradient, a shadow) is estimated by a grey-scale closing,
    which removes strokes narrower than about 1/10 of the image, on a reduced copy, then smoothed
    and scaled back; dividing by it flattens the paper to 1. Paper texture and sensor noise fall
    below the threshold of Otsu (1979, "A threshold selection method from gray-level histograms").
    """
    height, width = light.shape
    scale = ILLUMINATION_SIDE / max(height, width)
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = np.asarray(Image.fromarray(light).resize(small_size, Image.Resampling.BOX), dtype=np.float32)
    size = max(3, round(max(small.shape) * PAPER_CLOSING)) | 1  # odd, as rank filters need
    closed = _rank_filter(_rank_filter(small, size, np.max), size, np.min)
    # Smooth the estimate (8 bits are plenty for lighting), then scale it back to full size.
    smooth = Image.fromarray(np.round(np.clip(np.asarray(closed), 0.0, 1.0) * 255).astype(np.uint8))
    smooth = smooth.filter(ImageFilter.BoxBlur(size // 2)).resize((width, height), Image.Resampling.BILINEAR)
    paper = np.asarray(smooth, dtype=np.float32) * (1.0 / 255.0)
    ink = np.clip(1.0 - light / np.maximum(paper, 1e-3), 0.0, 1.0)
    threshold = otsu_threshold(ink)
    ink = np.where(ink > threshold, ink, 0.0)
    return (ink / max(float(ink.max()), 1e-6)).astype(np.float32)


def _rank_filter(image: np.ndarray, size: int, reduce) -> np.ndarray:
    """Grey-scale dilation (``reduce`` np.max) or erosion (np.min) by a ``size`` x ``size`` square, edges repeated.

    The same values as Pillow's ``MaxFilter``/``MinFilter``, computed as two 1-D passes over NumPy sliding windows
    (a square window is separable): O(size) a pixel, where Pillow's rank filter is O(size^2) and took 12 ms on a
    160 x 60 scan of a cheque."""
    half = size // 2
    for axis in (0, 1):
        padded = np.pad(image, [(half, half) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        image = reduce(np.lib.stride_tricks.sliding_window_view(padded, size, axis=axis), axis=-1)
    return image


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Return the threshold that maximises the between-class variance of ``values`` in [0, 1] (Otsu, 1979)."""
    histogram = np.bincount(np.clip((values.ravel() * (bins - 1)).astype(np.int64), 0, bins - 1), minlength=bins)
    p = histogram / histogram.sum()
    omega = np.cumsum(p)  # share of the class below each threshold
    mu = np.cumsum(p * np.arange(bins))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1.0 - omega))
    between = np.nan_to_num(between, nan=0.0, posinf=0.0)
    return float(np.argmax(between)) / (bins - 1)  # 0 for a single-valued image


@dataclass
class Components:
    """8-connected components of a binary image, from ``label_components``."""

    labels: np.ndarray  # int32 (H, W): 0 = background, 1..count = component
    count: int
    areas: np.ndarray  # (count + 1,) int64 pixels per label; areas[0] is unused
    boxes: np.ndarray  # (count + 1, 4) int64 [x, y, width, height] per label, pixels (the API's convention)


def label_components(mask: np.ndarray) -> Components:
    """Label the 8-connected components of a boolean (H, W) image, with their areas and boxes.

    The run-based two-scan method (He, Chao & Suzuki, "A run-based two-scan labeling algorithm",
    IEEE Trans. Image Processing 17(5), 2008): find the horizontal runs of each row, join runs
    of adjacent rows whose column ranges touch (diagonals included), resolve the equivalences with
    union-find, then paint the runs. Gives the same partition as scipy.ndimage.label with a 3x3
    structure (tests/test_preprocessing.py checks it), without SciPy's 140 MB in production.
    Raises TooMuchWorkError for more than ``MAX_RUNS`` runs.
    """
    height, width = mask.shape
    labels = np.zeros((height, width), np.int32)
    ink_rows = np.flatnonzero(mask.any(axis=1))
    if ink_rows.size == 0:
        return Components(labels, 0, np.zeros(1, np.int64), np.zeros((1, 4), np.int64))
    ink_cols = np.flatnonzero(mask.any(axis=0))
    top, left = int(ink_rows[0]), int(ink_cols[0])
    inked = (slice(top, int(ink_rows[-1]) + 1), slice(left, int(ink_cols[-1]) + 1))
    window = mask[inked]  # only the inked region is scanned
    padded = np.zeros((window.shape[0], window.shape[1] + 2), np.int8)
    padded[:, 1:-1] = window
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)  # runs in row-major order: sorted by row, then column
    ends = np.nonzero(edges == -1)[1]  # exclusive
    runs = len(starts)
    if runs > MAX_RUNS:
        raise TooMuchWorkError(
            f"The image is too noisy to read ({runs:,} separate stretches of ink, at most {MAX_RUNS:,}); "
            "send a drawing or a photo of the digits alone."
        )
    rows += top
    starts += left
    ends += left

    # Runs j of row r + 1 touching run i of row r: ends[j] >= starts[i] and starts[j] <= ends[i].
    stride = width + 2
    end_keys = rows * stride + ends
    start_keys = rows * stride + starts
    below = (rows + 1) * stride
    first = np.searchsorted(end_keys, below + starts, side="left")
    last = np.searchsorted(start_keys, below + ends, side="right")
    counts = np.maximum(last - first, 0)
    upper = np.repeat(np.arange(runs), counts)
    lower = np.repeat(first, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))

    roots = list(range(runs))  # a list: its items are read faster than a NumPy array's, one at a time
    for a, b in zip(upper.tolist(), lower.tolist()):
        while roots[a] != a:
            a = roots[a]
        while roots[b] != b:
            b = roots[b]
        if a != b:
            roots[max(a, b)] = min(a, b)
    parent = np.array(roots)
    while True:  # flatten every chain to its root
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        parent = grand
    # A root is the first run of its component in raster order (unions keep the lower index), so numbering the
    # roots in order numbers the components as a raster scan meets them, as scipy.ndimage.label does.
    root_numbers = np.cumsum(parent == np.arange(runs), dtype=np.int32)
    run_labels = root_numbers[parent]
    count = int(root_numbers[-1])

    lengths = ends - starts
    # The window's ink pixels in row-major order are the runs' pixels, run after run.
    labels[inked][window] = np.repeat(run_labels, lengths)

    areas = np.bincount(run_labels, weights=lengths, minlength=count + 1).astype(np.int64)
    edges = np.zeros((count + 1, 4), np.int64)  # x0, x1, y0, y1 (exclusive) while they are gathered
    edges[:, 0], edges[:, 2] = width, height
    np.minimum.at(edges[:, 0], run_labels, starts)
    np.maximum.at(edges[:, 1], run_labels, ends)
    np.minimum.at(edges[:, 2], run_labels, rows)
    np.maximum.at(edges[:, 3], run_labels, rows + 1)
    boxes = np.empty_like(edges)
    boxes[:, 0], boxes[:, 1] = edges[:, 0], edges[:, 2]
    boxes[:, 2], boxes[:, 3] = edges[:, 1] - edges[:, 0], edges[:, 3] - edges[:, 2]
    boxes[0] = 0  # label 0 (the background) has no box
    return Components(labels, count, areas, boxes)


def find_strokes(ink: np.ndarray, speck_fraction: float = SPECK_FRACTION, found: Components | None = None):
    """Label the strokes of an ink map and erase specks of noise from it, in place.

    Strokes are the 8-connected components of pixels above ``INK_THRESHOLD`` (``found``, where the caller has
    labelled them already: it is changed in place too); a component whose area is under ``speck_fraction`` of
    the largest one is a speck. Returns ``(components, kept)``: the Components (specks unlabelled) and the
    sorted label numbers kept. Raises EmptyImageError when there is no ink.
    """
    found = label_components(ink > INK_THRESHOLD) if found is None else found
    if found.count == 0:
        raise EmptyImageError(NO_INK, "draw a digit, or send a picture of one.")
    areas = found.areas[1:]
    kept = areas >= speck_fraction * areas.max()  # (count,) bool, one per component
    if not kept.all():
        is_speck = np.concatenate([[False], ~kept])  # lookup table: label -> speck
        specks = is_speck[found.labels]
        ink[specks] = 0.0
        found.labels[specks] = 0
    return found, np.flatnonzero(kept) + 1


def to_mnist_box(crop: np.ndarray) -> np.ndarray:
    """Scale a digit's bounding-box crop into MNIST's frame: float32 (28, 28) in [0, 1], ink = 1.

    The longer side becomes 20 px (``DIGIT_BOX``) keeping the aspect ratio, with area-averaging
    (anti-aliasing) when shrinking; the result is padded to 28x28 and translated by whole pixels so
    its centre of mass lands where MNIST's does (``MNIST_CENTRE``), never cutting the digit off.
    """
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    digit = np.asarray(
        Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32)).resize(size, resample), dtype=np.float32
    )
    digit = np.clip(digit, 0.0, None)
    digit /= max(float(digit.max()), 1e-6)  # a thin stroke shrunk to faint grey becomes full ink again

    total = float(digit.sum())
    if total == 0.0:  # no ink in the crop (a separator read between strokes): a blank frame, not a division by 0
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    cy = float(digit.sum(axis=1) @ np.arange(digit.shape[0])) / total
    cx = float(digit.sum(axis=0) @ np.arange(digit.shape[1])) / total
    top = min(max(round(MNIST_CENTRE - cy), 0), IMAGE_SIZE - digit.shape[0])
    left = min(max(round(MNIST_CENTRE - cx), 0), IMAGE_SIZE - digit.shape[1])
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return out


def normalize_digit(grey: np.ndarray) -> np.ndarray:
    """Turn a grey image of one digit into an MNIST-like digit, as LeCun et al. made MNIST.

    ``grey``: float (H, W) in [0, 1], either polarity (see ``ink_map``). Keeps the strokes (see
    ``find_strokes``), crops to their bounding box and scales and centres it (``to_mnist_box``).
    Returns float32 (28, 28) in [0, 1], ink = 1. Raises EmptyImageError when there is no ink.
    """
    ink, photo = ink_map(grey)
    found, kept = find_strokes(ink, PHOTO_SPECK_FRACTION if photo else SPECK_FRACTION)
    x, y, w, h = found.boxes[kept].T
    return to_mnist_box(ink[y.min() : (y + h).max(), x.min() : (x + w).max()])

"""Ink arrays and what is done to them: crop, scale, distort, thicken, lean, and the moments that measure a lean.

Ink images are float32 (H, W) in [0, 1], 1 = ink. Every random transform takes a ``numpy.random.Generator``, so
a seed fixes its output.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from recognizer.normalize import INK_THRESHOLD

# Every mark is cropped to its bounding box before the network sees it, so a bar of any length that leans no
# more than a slanted hand's 1 is a 1. Hands that lean forward write 1s as strokes up to 45 degrees from
# vertical (the cheque amounts' 1s, which the network took for lines at 35 degrees: a bar at 45 degrees read
# "not a digit" at 0.68), so a bar within ONE_TILT of vertical is a 1, never a negative, and a line negative
# leans at least LINE_MIN_TILT (``synth.nondigits``: within 30 degrees of horizontal: a dash, an underline, a
# ruled line); the bars between are taught neither way.
ONE_ELONGATION = 3.0  # a mark whose ink is this many times longer than wide ...
ONE_TILT = np.radians(45)  # ... along an axis this close to vertical is a 1, never a negative (one_like)


def crop_ink(ink: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Return ``ink`` cropped to the bounding box of its pixels above ``threshold`` (1x1 zero when none)."""
    rows = np.flatnonzero(ink.max(axis=1) > threshold)
    cols = np.flatnonzero(ink.max(axis=0) > threshold)
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    return np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.float32)


def resize_ink(ink: np.ndarray, height: int) -> np.ndarray:
    """Scale ink to ``height`` pixels, keeping its aspect ratio (bilinear)."""
    scale = height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), max(1, height))
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BILINEAR), np.float32)


def mnist_ink(digit: np.ndarray, height: int = 48) -> np.ndarray:
    """Return an MNIST digit (uint8 (28, 28), ink = 255) cropped to its ink and scaled to ``height`` px."""
    return resize_ink(crop_ink(digit.astype(np.float32) / 255.0), height)


def elastic(ink: np.ndarray, rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    """Distort ink by a smooth random displacement field (Simard et al., 2003) of ``amount`` of its size.

    The field is a 4x4 grid of random offsets scaled up bilinearly, so it is smooth without a Gaussian filter.
    """
    height, width = ink.shape
    if min(height, width) < 4:
        return ink
    fields = []
    for side in (width, height):
        grid = rng.normal(0, amount * side, (4, 4)).astype(np.float32)
        fields.append(np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BILINEAR)))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    sx = np.clip(np.round(xs + fields[0]), 0, width - 1).astype(np.int64)
    sy = np.clip(np.round(ys + fields[1]), 0, height - 1).astype(np.int64)
    return ink[sy, sx]


def pen_width(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thicken or thin strokes at random (grey-scale dilation or erosion with Pillow's rank filters)."""
    pick = rng.random()
    if pick < 0.3 and min(ink.shape) > 8:
        filt = ImageFilter.MaxFilter(3 if pick < 0.2 else 5)
    elif pick < 0.45 and min(ink.shape) > 16:
        filt = ImageFilter.MinFilter(3)
    else:
        return ink
    out = np.asarray(Image.fromarray(ink.astype(np.float32)).filter(filt), np.float32)
    return out if out.max() > 0.3 else ink


def lean(image: np.ndarray, shear: float, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """Shear ``image`` (H, W) horizontally: ``shear`` pixels across per pixel down, the top moving right for
    ``shear`` > 0 (a forward lean, the sign of ``slant``). Returns (H, W + ceil(|shear| * (H - 1))) of the same
    dtype, nothing cut off; ``resample`` NEAREST keeps integer labels (an owner map) whole."""
    height, width = image.shape
    extra = int(np.ceil(abs(shear) * (height - 1)))
    # Pillow maps each output pixel (x, y) back to the input pixel (x + shear * y + offset, y).
    offset = -shear * (height - 1) if shear > 0 else 0.0
    mode_array = image.astype(np.float32 if resample != Image.Resampling.NEAREST else np.int32)
    out = Image.fromarray(mode_array).transform(
        (width + extra, height), Image.Transform.AFFINE, (1, shear, offset, 0, 1, 0), resample=resample
    )
    return np.asarray(out).astype(image.dtype)


def slant(ink: np.ndarray) -> float:
    """Return the lean of a mark: -mu11 / mu02 of its ink's second moments, forward (top to the right) positive.

    ``ink``: float (H, W), ink > 0. Pixels across per pixel down, the shear that would stand the mark upright
    (the moment-based slant of deskewing, as in LeCun et al. 1998's deslanted MNIST runs); 0 for under 3 pixels.
    """
    cov = _ink_covariance(ink, 0.0)
    return 0.0 if cov is None else float(-cov[0, 1] / max(cov[1, 1], 1e-9))


def _ink_covariance(ink: np.ndarray, threshold: float) -> np.ndarray | None:
    """Return the (2, 2) covariance of (x, y) over the pixels above ``threshold``, weighted by their ink.

    The second moments that ``slant`` and ``one_like`` read; None for fewer than 3 such pixels.
    """
    ys, xs = np.nonzero(ink > threshold)
    if len(xs) < 3:
        return None
    return np.cov(np.stack([xs, ys]).astype(np.float64), aweights=np.asarray(ink)[ys, xs].astype(np.float64))


def one_like(ink: np.ndarray) -> bool:
    """Whether a mark is a bar near vertical, which the network must read as a 1: never a negative.

    ``ink``: float (H, W) in [0, 1], any scale (the test is scale-free). From the ink's second moments
    (its covariance): elongation = sqrt(major / minor eigenvalue) at least ``ONE_ELONGATION`` and the
    major axis within ``ONE_TILT`` of vertical. A 1 drawn 20 px tall and 3 px wide has elongation ~6.7.
    """
    cov = _ink_covariance(ink, INK_THRESHOLD)
    if cov is None:
        return False
    (minor, major), axes = np.linalg.eigh(cov)
    if not np.isfinite(major) or major <= 0:
        return False
    vector = axes[:, 1]  # the major axis (x, y)
    tilt = np.arctan2(abs(vector[0]), abs(vector[1]))  # 0 = vertical
    return bool(np.sqrt(major / max(minor, 1e-9)) >= ONE_ELONGATION and tilt <= ONE_TILT)


def draw_ink(size: tuple[int, int], paint) -> np.ndarray:
    """Paint on a black (w, h) = ``size`` canvas with ``paint(ImageDraw)``: ink float32 (h, w) in [0, 1]."""
    canvas = Image.new("L", size, 0)
    paint(ImageDraw.Draw(canvas))
    return np.asarray(canvas, np.float32) / 255.0

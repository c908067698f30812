"""Marks that are not digits, the twelve kinds of ``NON_DIGITS``: what a canvas or a cell holds besides digits.

Lines, grid crossings, box corners and borders, a dark band at an edge, dots and taps, blobs, punctuation,
scribbles, partial digits, letters, empty paper. Each kind is a function of its own in the ``NON_DIGITS``
registry; ``non_digit`` draws one and never returns a bar near vertical (``synth.ink.one_like``: that is a 1).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from synth.fonts import fonts, render_text
from synth.ink import crop_ink, draw_ink, elastic, one_like, pen_width, resize_ink

# Letters that look like no digit (O, I, l, Z, S, B, G, b, q, g look like 0, 1, 2, 5, 8, 6, 9).
LETTERS = "ACEFHKLMNPRUVWXYcefhkmnprtuvwxy"
# No "/" or "|": cropped to its bounding box as every mark is, a slash is a slanted 1 (see non_digit).
PUNCTUATION = ".,-=+×÷:;_*#%"
PARTIAL_EXCLUDE = (1, 7)  # half of a 1 or a 7 is still a 1 or a 7
# Halves that are whole digits of their own: either half of an 8, and a 9's head or a 6's belly, is a 0.
PARTIAL_LOOPS = {(8, 0), (8, 1), (9, 0), (6, 1)}  # (label, cut): cut 0 keeps the top half, 1 the bottom
# A line negative leans at least this far from vertical (within 30 degrees of horizontal: a dash, an underline,
# a ruled line); a bar within synth.ink.ONE_TILT of vertical is a 1, and the bars between are taught neither way.
LINE_MIN_TILT = np.radians(60)
PEN_FREE = ("edge band", "paper", "dot")  # kinds not drawn with a pen, whose width is left as drawn


def non_digit(kind: str, rng: np.random.Generator, mnist_digits=None, part: str = "train") -> np.ndarray:
    """Draw one mark of ``kind`` (one of ``NON_DIGIT_KINDS``) on a frame of its own: ink float32 (H, W).

    ``mnist_digits``: (images uint8 (N, 28, 28), labels) for "partial digit"; ``part``: the font part for
    letters and punctuation. The frame is what a canvas or a cell around the mark would hold. A mark that
    comes out ``one_like`` (a lone stroke of a 4, a thin scribble) is drawn again: it is a 1.
    """
    for _ in range(20):
        ink = _non_digit_once(kind, rng, mnist_digits, part)
        if not one_like(ink):
            break
    return ink


def _non_digit_once(kind: str, rng: np.random.Generator, mnist_digits, part: str) -> np.ndarray:
    side = int(rng.integers(64, 160))
    width = max(1, round(side * rng.uniform(0.02, 0.12)))
    if kind not in NON_DIGITS:
        raise ValueError(f"unknown kind {kind!r}")
    ink = NON_DIGITS[kind](rng, side, width, mnist_digits, part)
    if kind not in PEN_FREE:
        ink = pen_width(ink, rng)
    return ink.astype(np.float32)


def sorted_box(values) -> list[float]:
    """Return [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1 from four numbers."""
    x0, y0, x1, y1 = values
    return [min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1]


# Each kind: (rng, side, width, mnist_digits, part) -> ink float32 (H, W), on a frame of ``side`` px drawn with a
# pen ``width`` px wide.


def _line(rng, side, width, mnist_digits, part):
    """A ruled line, a dash or an underline: at least LINE_MIN_TILT away from vertical, either way."""
    angle = rng.uniform(-(np.pi / 2 - LINE_MIN_TILT), np.pi / 2 - LINE_MIN_TILT)
    length = side * rng.uniform(0.4, 1.0)
    cx, cy = rng.uniform(0.3, 0.7, 2) * side
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    if rng.random() < 0.5:  # most ruled lines are horizontal (a vertical one, cropped, is a 1)
        dx, dy = length / 2, 0
    return draw_ink((side, side), lambda d: d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=255, width=width))


def _grid_crossing(rng, side, width, mnist_digits, part):
    """Two grid lines crossing, or a T or an L."""
    x, y = rng.uniform(0.2, 0.8, 2) * side
    ink = draw_ink(
        (side, side),
        lambda d: (
            d.line([(x, 0), (x, side)], fill=255, width=width),
            d.line([(0, y), (side, y)], fill=255, width=width),
        ),
    )
    if rng.random() < 0.5:  # a T or an L: one arm cut short
        ink[: int(y) - width, :] *= 0 if rng.random() < 0.5 else 1
    return ink


def _box_corner(rng, side, width, mnist_digits, part):
    """A box's corner."""
    x, y = rng.uniform(0.1, 0.5, 2) * side
    return draw_ink((side, side), lambda d: d.line([(x, side), (x, y), (side, y)], fill=255, width=width))


def _border(rng, side, width, mnist_digits, part):
    """A box's border around the frame."""
    x0, y0 = rng.uniform(0.0, 0.25, 2) * side
    x1, y1 = rng.uniform(0.75, 1.0, 2) * side
    return draw_ink((side, side), lambda d: d.rectangle([x0, y0, x1, y1], outline=255, width=width))


def _edge_band(rng, side, width, mnist_digits, part):
    """A dark band along the top or the bottom edge."""
    band = round(side * rng.uniform(0.05, 0.3))
    ink = np.zeros((side, side), np.float32)
    # Top or bottom: a band down a side, cropped to its bounding box, is a thick 1 (line removal
    # takes real margins out before segmentation).
    region = (slice(0, band), slice(None)) if rng.random() < 0.5 else (slice(side - band, side), slice(None))
    ink[region] = rng.uniform(0.5, 1.0)
    return ink


def _dot(rng, side, width, mnist_digits, part):
    """A dot or a tap."""
    r = side * rng.uniform(0.02, 0.08)
    x, y = rng.uniform(0.3, 0.7, 2) * side
    return draw_ink((side, side), lambda d: d.ellipse([x - r, y - r * rng.uniform(0.6, 1.4), x + r, y + r], fill=255))


def _blob(rng, side, width, mnist_digits, part):
    """One to three filled ellipses, distorted."""
    ink = draw_ink(
        (side, side),
        lambda d: [
            d.ellipse(sorted_box(rng.uniform(0.1, 0.9, 4) * side), fill=255) for _ in range(int(rng.integers(1, 4)))
        ],
    )
    return elastic(ink, rng, 0.05)


def _punctuation(rng, side, width, mnist_digits, part):
    """A punctuation mark or symbol of ``PUNCTUATION`` in a font of ``part``."""
    font_list = fonts(part)
    mark = PUNCTUATION[int(rng.integers(len(PUNCTUATION)))]
    return render_text(mark, font_list[int(rng.integers(len(font_list)))], int(rng.integers(24, 72)), rng)


def _scribble(rng, side, width, mnist_digits, part):
    """One to three random walks of a pen."""

    def paint(d):
        for _ in range(int(rng.integers(1, 4))):
            points = np.cumsum(rng.normal(0, side / 6, (int(rng.integers(4, 10)), 2)), axis=0) + side / 2
            d.line([tuple(p) for p in points.clip(2, side - 2)], fill=255, width=width, joint="curve")

    return draw_ink((side, side), paint)


def _partial_digit(rng, side, width, mnist_digits, part):
    """Half of an MNIST digit of ``mnist_digits`` (top, bottom, left or right), never a whole digit's shape."""
    images, labels = mnist_digits
    while True:
        i = int(rng.integers(len(images)))
        cut = int(rng.integers(4))
        if labels[i] in PARTIAL_EXCLUDE or (int(labels[i]), cut) in PARTIAL_LOOPS:
            continue
        digit = images[i].astype(np.float32) / 255.0
        rows = np.flatnonzero(digit.max(axis=1) > 0.1)
        cols = np.flatnonzero(digit.max(axis=0) > 0.1)
        digit = digit.copy()
        if cut == 0:
            digit[(rows[0] + rows[-1]) // 2 :] = 0
        elif cut == 1:
            digit[: (rows[0] + rows[-1]) // 2] = 0
        elif cut == 2:
            digit[:, (cols[0] + cols[-1]) // 2 :] = 0
        else:
            digit[:, : (cols[0] + cols[-1]) // 2] = 0
        break
    return resize_ink(crop_ink(digit), side // 2)


def _letter(rng, side, width, mnist_digits, part):
    """A letter of ``LETTERS`` in a font of ``part``, distorted."""
    font_list = fonts(part)
    letter = LETTERS[int(rng.integers(len(LETTERS)))]
    ink = render_text(letter, font_list[int(rng.integers(len(font_list)))], int(rng.integers(32, 96)), rng)
    return elastic(ink, rng, 0.05)


def _paper(rng, side, width, mnist_digits, part):
    """Empty paper: its texture's darkest flecks."""
    noise = rng.normal(0, 1, (side // 4, side // 4)).astype(np.float32)
    ink = np.asarray(Image.fromarray(noise).resize((side, side), Image.Resampling.BICUBIC), np.float32)
    return np.clip((ink - 1.2) * 0.5, 0, 1)


NON_DIGITS = {
    "line": _line,
    "grid crossing": _grid_crossing,
    "box corner": _box_corner,
    "border": _border,
    "edge band": _edge_band,
    "dot": _dot,
    "blob": _blob,
    "punctuation": _punctuation,
    "scribble": _scribble,
    "partial digit": _partial_digit,
    "letter": _letter,
    "paper": _paper,
}
NON_DIGIT_KINDS = tuple(NON_DIGITS)

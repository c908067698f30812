"""Digits as people write and print them: pen strokes, European styles, slanted MNIST hands, fonts.

``stroke_digit`` draws a digit as the page sends it (a Pillow canvas); the others return ink float32 (H, W) in
[0, 1], 1 = ink, from a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from synth.fonts import printed_digit
from synth.ink import crop_ink, elastic, lean, mnist_ink, pen_width, resize_ink, slant

# Pen strokes of digits in unit coordinates (x right, y down), one list of points per stroke. The styles
# MNIST (American writers) lacks are the ones a European hand uses: "1 flag base", "7 crossed", "4 closed",
# "9 curled"; and "9 loop", a loop closed on top with the stem falling from under its middle, not from its
# right side (a Latin-American hand: the cheque amounts' 9s, read as 8s).
STROKES = {
    "0": [[(0.5, 0.0), (0.15, 0.25), (0.15, 0.75), (0.5, 1.0), (0.85, 0.75), (0.85, 0.25), (0.5, 0.0)]],
    "1": [[(0.35, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    "1 flag base": [[(0.15, 0.35), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
    "1 flag": [[(0.1, 0.4), (0.6, 0.0), (0.6, 1.0)]],
    "4": [[(0.6, 0.0), (0.05, 0.65), (0.9, 0.65)], [(0.7, 0.3), (0.7, 1.0)]],
    "4 closed": [[(0.7, 1.0), (0.7, 0.0), (0.1, 0.62), (0.95, 0.62)]],
    "4 open": [[(0.25, 0.0), (0.15, 0.6), (0.9, 0.6)], [(0.7, 0.15), (0.7, 1.0)]],
    "7": [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    "7 crossed": [[(0.1, 0.05), (0.9, 0.0), (0.4, 1.0)], [(0.35, 0.5), (0.85, 0.5)]],
    "9 curled": [
        [
            (0.85, 0.25),
            (0.5, 0.0),
            (0.15, 0.2),
            (0.2, 0.4),
            (0.5, 0.45),
            (0.85, 0.25),
            (0.8, 0.7),
            (0.6, 0.95),
            (0.35, 1.0),
            (0.2, 0.85),
        ]
    ],
    "9": [[(0.85, 0.25), (0.5, 0.0), (0.15, 0.2), (0.2, 0.4), (0.5, 0.45), (0.85, 0.25), (0.8, 1.0)]],
    "9 loop": [
        [
            (0.45, 0.47),
            (0.8, 0.35),
            (0.85, 0.12),
            (0.6, 0.0),
            (0.3, 0.02),
            (0.13, 0.2),
            (0.2, 0.4),
            (0.45, 0.47),
            (0.42, 1.0),
        ]
    ],
}
# The lean of a styled digit: a horizontal shear, pixels across per pixel down, forward (the top to the right)
# positive. MNIST's own writers lean forward up to 0.58 and back up to 0.35 (the 5th and 95th percentiles of the
# second-moment slant of ``slant`` over 20,000 training digits); a hand that leans forward writes its 1s as
# slanted strokes whose flag meets the stem like a 7's bar (cheque amounts), which upright styled 1s never taught.
STYLE_SHEAR = (-0.35, 0.58)
ONE_SHEAR = (-0.35, 1.0)  # a 1 is one stroke, and a forward hand leans it up to 45 degrees (see synth.ink.ONE_TILT)
# ``slanted_digit``: MNIST digits leaned as a forward hand writes them, past MNIST's own 95th percentile (0.58)
# up to 45 degrees; BACK_SLANT_SHARE of them lean back instead, as a left-handed writer's may.
SLANT = (0.45, 1.0)
BACK_SLANT = (-0.6, -0.35)
BACK_SLANT_SHARE = 0.15
STYLES = {
    "1": ("1", "1 flag base", "1 flag"),
    "4": ("4", "4 closed", "4 open"),
    "7": ("7", "7 crossed"),
    "9": ("9", "9 curled", "9 loop"),
    "0": ("0",),
}


def stroke_digit(
    digit: int | str,
    size: int = 280,
    width: int = 20,
    box: tuple[int, int, int] | None = None,
    transparent: bool = True,
) -> Image.Image:
    """Draw a digit with a pen's strokes on a canvas, as a person would on the page.

    ``digit``: 0, 1, 4, 7 or 9, or a style of ``STROKES`` ("1 flag base", "7 crossed", "4 closed",
    "9 curled", "9 loop"). ``box`` = (left, top, side) of the square it is drawn in (default: a centred 70% square).
    Returns an RGBA image (transparent background, black ink) or RGB on white.
    """
    side = box[2] if box else int(size * 0.7)
    left, top = (box[0], box[1]) if box else ((size - side) // 2, (size - side) // 2)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    pen = ImageDraw.Draw(image)
    key = str(digit)
    if key not in STROKES:
        raise ValueError(f"no stroke recipe for {digit}")
    for stroke in STROKES[key]:
        points = [(left + x * side, top + y * side) for x, y in stroke]
        pen.line(points, fill=(0, 0, 0, 255), width=width, joint="curve")
        for x, y in points[:: max(1, len(points) - 1)]:  # round pen tips
            pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=(0, 0, 0, 255))
    return image if transparent else image.convert("RGB")


def styled_digit(label: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Draw a digit in one of ``STYLES``' hands with a jittered, slanted pen: ink float32 (size, ~size)."""
    key = STYLES[label][int(rng.integers(len(STYLES[label])))]
    shear = rng.uniform(*(ONE_SHEAR if label == "1" else STYLE_SHEAR))
    width = max(2, round(size * rng.uniform(0.06, 0.16)))
    canvas = Image.new("L", (2 * size, 2 * size), 0)
    pen = ImageDraw.Draw(canvas)
    for stroke in STROKES[key]:
        points = []
        for x, y in stroke:
            x, y = x + rng.normal(0, 0.035), y + rng.normal(0, 0.035)
            points.append((size * 0.5 + size * (0.7 * x + shear * (1 - y)), size * 0.5 + size * y))
        pen.line(points, fill=255, width=width, joint="curve")
    return elastic(crop_ink(np.asarray(canvas, np.float32) / 255.0), rng)


def slanted_digit(digit: np.ndarray, rng: np.random.Generator, height: int = 48) -> np.ndarray:
    """Lean an MNIST digit (uint8 (28, 28), ink = 255) to a random slant of ``SLANT`` (``BACK_SLANT`` in
    ``BACK_SLANT_SHARE`` of draws), whatever its own: ink float32 cropped to its box, ``height`` px tall."""
    ink = mnist_ink(digit, height)
    target = rng.uniform(*(BACK_SLANT if rng.random() < BACK_SLANT_SHARE else SLANT))
    return crop_ink(lean(ink, target - slant(ink)))


def digit_ink(
    label: int, rng: np.random.Generator, mnist_digits, height: int, printed_share: float, part: str = "train"
) -> np.ndarray:
    """One digit's ink at ``height`` px: printed in a font, drawn in a European style, or an MNIST hand."""
    pick = rng.random()
    if pick < printed_share:
        return resize_ink(printed_digit(label, rng, part), height)
    if str(label) in STYLES and pick < printed_share + 0.15:
        return resize_ink(styled_digit(str(label), rng), height)
    images, labels = mnist_digits
    choices = np.flatnonzero(labels == label)
    return pen_width(mnist_ink(images[int(rng.choice(choices))], height), rng)

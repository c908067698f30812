"""Inputs as a browser or a client sends them: images encoded to bytes, MNIST digits and marks on a canvas,
and MNIST digits written side by side as one number.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from recognizer.png import encode_png
from synth.ink import crop_ink

# The side in pixels of the PNG the page sends for a digit (static/js/pad.js EXPORT_SIDE.square).
PAGE_DIGIT_SIDE = 112


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Return the bytes of a Pillow ``image`` saved in ``fmt`` (PNG through ``recognizer.png`` for arrays)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def canvas_from_mnist(
    digit: np.ndarray, size: int = 280, box: tuple[int, int, int] | None = None, background: str = "transparent"
) -> Image.Image:
    """Draw a uint8 (28, 28) MNIST digit (ink = 255) as a browser canvas would hold it.

    ``box`` = (left, top, side): where the 28x28 frame is scaled into the canvas (default: the whole
    canvas). ``background``: "transparent" (black ink, alpha = ink, like a transparent canvas),
    "white" (black on white) or "black" (white on black).
    """
    left, top, side = box or (0, 0, size)
    ink = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    alpha = Image.new("L", (size, size), 0)
    alpha.paste(ink, (left, top))
    if background == "transparent":
        image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        image.putalpha(alpha)
        return image
    if background == "white":
        return Image.merge("RGB", [Image.eval(alpha, lambda v: 255 - v)] * 3)
    if background == "black":
        return Image.merge("RGB", [alpha] * 3)
    raise ValueError(background)


def mark_on_canvas(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Put a mark's ink on a transparent canvas as the page sends it: PNG bytes (RGBA, alpha = ink)."""
    side = int(max(ink.shape) * rng.uniform(1.1, 1.8)) + 4
    alpha = np.zeros((side, side), np.float32)
    y = int(rng.integers(0, side - ink.shape[0] + 1))
    x = int(rng.integers(0, side - ink.shape[1] + 1))
    alpha[y : y + ink.shape[0], x : x + ink.shape[1]] = ink
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[:, :, 3] = np.round(np.clip(alpha, 0, 1) * 255)
    return encode_png(rgba)


def compose_number(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Write MNIST digits side by side as one number: uint8 (H, W), dark ink on white.

    Each digit (uint8 (28, 28), ink = 255) is cropped to its ink, scaled by 0.8 to 1.3, shifted up or down by
    up to 4 px and placed after the previous one with a gap of -2 (a small overlap) to 10 px.
    """
    pieces = []
    for digit in digits:
        crop = Image.fromarray(np.round(crop_ink(digit.astype(np.float32) / 255.0, 30 / 255) * 255).astype(np.uint8))
        scale = rng.uniform(0.8, 1.3)
        size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
        pieces.append(np.asarray(crop.resize(size, Image.Resampling.BILINEAR)))
    height = max(p.shape[0] for p in pieces) + 24
    gaps = rng.integers(-2, 11, len(pieces))
    width = sum(p.shape[1] for p in pieces) + int(gaps[1:].clip(0).sum()) + 24
    canvas = np.zeros((height, width), np.uint8)
    x = 12
    for piece, gap in zip(pieces, gaps):
        x = max(0, x + (int(gap) if x > 12 else 0))
        y = (height - piece.shape[0]) // 2 + int(rng.integers(-4, 5))
        y = int(np.clip(y, 0, height - piece.shape[0]))
        region = canvas[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece[:, : region.shape[1]], out=region)
        x += piece.shape[1]
    return 255 - canvas

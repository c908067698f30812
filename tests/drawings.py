"""Test images: MNIST test digits re-drawn the way people and devices send them, and stroke digits."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Return the bytes of ``image`` saved in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def canvas_from_mnist(digit: np.ndarray, size: int = 280, box: tuple[int, int, int] | None = None,
                      background: str = "transparent") -> Image.Image:
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


def stroke_digit(digit: int, size: int = 280, width: int = 20, box: tuple[int, int, int] | None = None,
                 transparent: bool = True) -> Image.Image:
    """Draw a digit with straight strokes and arcs, as a person would on the page's canvas.

    ``box`` = (left, top, side) of the square the digit is drawn in (default: a centred 70% square).
    Supports 0, 1, 4 and 7, which people draw from simple strokes.
    """
    side = box[2] if box else int(size * 0.7)
    left, top = (box[0], box[1]) if box else ((size - side) // 2, (size - side) // 2)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if transparent else (255, 255, 255, 255))
    pen = ImageDraw.Draw(image)
    ink = (0, 0, 0, 255)

    def p(x: float, y: float) -> tuple[float, float]:
        return left + x * side, top + y * side

    if digit == 1:
        pen.line([p(0.35, 0.2), p(0.55, 0.0), p(0.55, 1.0)], fill=ink, width=width, joint="curve")
    elif digit == 7:
        pen.line([p(0.1, 0.0), p(0.9, 0.0), p(0.4, 1.0)], fill=ink, width=width, joint="curve")
    elif digit == 4:
        pen.line([p(0.6, 0.0), p(0.05, 0.65), p(0.9, 0.65)], fill=ink, width=width, joint="curve")
        pen.line([p(0.7, 0.3), p(0.7, 1.0)], fill=ink, width=width)
    elif digit == 0:
        pen.ellipse([p(0.15, 0.0), p(0.85, 1.0)], outline=ink, width=width)
    else:
        raise ValueError(f"no stroke recipe for {digit}")
    return image

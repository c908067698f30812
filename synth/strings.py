"""Synthetic lines of handwritten digits for the string reader: (grey image, text) pairs.

A line is a random text (``random_text``: plain numbers, amounts with thousands separators and decimals,
dates, codes) written glyph by glyph in MNIST hands, the European styles of ``synth.digits.STYLES`` and a few
printed fonts, with real spacing (gaps, touching and overlapping neighbours), size and baseline jitter, a
forward or backward lean of the whole line and a varied pen; then put in a scene (``SCENES``): a clean
canvas as the page sends it, textured paper or a cheque with a ruled line or an underline, a small soft phone
photo, or a scanned crop with a black margin, a column rule and a cross beside the number. Marks that are
not characters of the alphabet ("=" after an amount, crosses, ticks) are drawn and not labelled.

``line_sample`` returns what the reader is trained on: the scene passed through ``recognizer.finer.served_line``,
the line finding that serves a reader trained so.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from recognizer.decode import decode_image
from recognizer.finer import served_line
from recognizer.line import Line
from recognizer.png import encode_png
from synth.digits import digit_ink
from synth.ink import crop_ink, lean, pen_width
from synth.scenes import camera, paper

SEPARATORS = ".,-/"
SCENES = {"canvas": 0.25, "paper": 0.35, "small photo": 0.2, "scan": 0.2}


def random_text(rng: np.random.Generator) -> str:
    """A random line of digits and separators, 1 to 12 characters, shaped like the numbers people write."""
    kind = rng.choice(["digits", "amount", "decimal", "date", "code"], p=[0.45, 0.2, 0.15, 0.1, 0.1])
    digits = lambda n: "".join(str(d) for d in rng.integers(0, 10, n))  # noqa: E731
    if kind == "digits":
        return digits(int(rng.choice(np.arange(1, 11), p=_length_weights())))
    if kind == "amount":
        groups = [digits(int(rng.integers(1, 4)))] + [digits(3) for _ in range(int(rng.integers(1, 3)))]
        return rng.choice([".", ","]).join(groups)
    if kind == "decimal":
        whole = digits(int(rng.integers(1, 5)))
        return whole + str(rng.choice([".", ","])) + digits(2)
    if kind == "date":
        parts = [digits(int(rng.integers(1, 3))), digits(int(rng.integers(1, 3)))]
        if rng.random() < 0.7:
            parts.append(digits(int(rng.choice([2, 4]))))
        return str(rng.choice(["/", "-", "."])).join(parts)
    return "-".join(digits(int(rng.integers(2, 5))) for _ in range(int(rng.integers(2, 4))))


def signed_text(rng: np.random.Generator) -> str:
    """A number with a sign or a cheque's terminator, which ``random_text`` never writes: a leading minus ("-15",
    "-3.50") or, after the amount, ".-", ",-" or "-" ("1500.-", "250,-"), that a cheque writer adds so that nothing
    can be written after the amount. Training lines only; the held-out sets keep ``random_text``'s texts."""
    digits = lambda n: "".join(str(d) for d in rng.integers(0, 10, n))  # noqa: E731
    kind = rng.choice(["digits", "amount", "decimal"], p=[0.5, 0.25, 0.25])
    if kind == "digits":
        text = digits(int(rng.integers(1, 8)))
    elif kind == "amount":
        text = str(rng.choice([".", ","])).join([digits(int(rng.integers(1, 4))), digits(3)])
    else:
        text = digits(int(rng.integers(1, 5))) + str(rng.choice([".", ","])) + digits(2)
    if rng.random() < 0.5:
        return "-" + text
    return text + str(rng.choice([".-", ",-", "-"], p=[0.4, 0.3, 0.3]))


def _length_weights() -> np.ndarray:
    weights = np.array([6, 6, 8, 10, 10, 9, 7, 7, 5, 4], np.float64)  # 1..10 digits
    return weights / weights.sum()


def separator_ink(char: str, rng: np.random.Generator, height: int) -> tuple[np.ndarray, float]:
    """Draw a separator (or "=", a cheque's terminator) for digits ``height`` px tall.

    Returns (ink float32 cropped to its box, where its bottom sits as a share of the digit height below
    the top: 1 = on the baseline)."""
    pen = max(2, round(height * rng.uniform(0.07, 0.14)))
    if char == ".":
        return _drawn((pen + 2, pen + 2), lambda d: d.ellipse([1, 1, pen, pen], fill=255)), rng.uniform(0.95, 1.05)
    if char == ",":
        size = (pen + 2, int(pen * rng.uniform(1.6, 2.6)) + 2)
        return _drawn(size, lambda d: d.line([(size[0] - 2, 1), (1, size[1] - 2)], fill=255, width=pen)), rng.uniform(
            1.1, 1.25
        )
    if char == "/":
        lean = int(height * rng.uniform(0.25, 0.5))
        return _drawn(
            (lean + pen + 2, height),
            lambda d: d.line([(lean + 1, 1), (1, height - 2)], fill=255, width=max(2, pen // 2 + 1)),
        ), 1.0
    length = int(height * rng.uniform(0.3, 0.6))
    width = max(2, pen // 2 + 1)
    if char == "-":
        return _drawn(
            (length, width + 2), lambda d: d.line([(0, width / 2 + 1), (length, width / 2)], fill=255, width=width)
        ), rng.uniform(0.5, 0.75)
    # "=": two dashes
    gap = int(height * rng.uniform(0.12, 0.25))
    return _drawn(
        (length, gap + 2 * width + 2),
        lambda d: (
            d.line([(0, width / 2), (length, width / 2)], fill=255, width=width),
            d.line([(0, gap + width), (length, gap + width)], fill=255, width=width),
        ),
    ), rng.uniform(0.6, 0.8)


def _drawn(size: tuple[int, int], paint) -> np.ndarray:
    canvas = Image.new("L", (max(1, size[0]), max(1, size[1])), 0)
    paint(ImageDraw.Draw(canvas))
    return crop_ink(np.asarray(canvas, np.float32) / 255.0)


def write_line(text: str, rng: np.random.Generator, mnist_digits, part: str = "train") -> np.ndarray:
    """Write ``text`` by hand: ink float32 (H, W) in [0, 1], ink = 1, the line and a margin around it.

    Digit glyphs are ``synth.digits.digit_ink`` (MNIST of ``mnist_digits``, styled, or 5% printed in a font of
    ``part``); neighbours are 10% apart to overlapping by 15% of the height (a third of lines are written
    tight, touching); sometimes an unlabelled "=" or ".-" ends an amount, as on a cheque."""
    height = int(rng.integers(28, 64))
    tight = rng.random() < 0.33
    pieces = []  # (ink, bottom as a share of height)
    for char in text:
        if char.isdigit():
            glyph = digit_ink(int(char), rng, mnist_digits, int(height * rng.uniform(0.85, 1.1)), 0.05, part)
            pieces.append((glyph, 1.0 + rng.uniform(-0.06, 0.06)))
        else:
            pieces.append(separator_ink(char, rng, height))
    if text and text[-1].isdigit() and rng.random() < 0.08:
        pieces.append(separator_ink("=", rng, height))
    canvas_h = int(height * 2.0)
    width = sum(p.shape[1] for p, _ in pieces) + height * (len(pieces) + 2)
    ink = np.zeros((canvas_h, width), np.float32)
    x = height // 2
    top = (canvas_h - height) // 2
    for piece, bottom in pieces:
        y = int(np.clip(top + bottom * height - piece.shape[0], 0, canvas_h - piece.shape[0]))
        region = ink[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece[:, : region.shape[1]], out=region)
        gap = rng.uniform(-0.15, 0.1) if tight else rng.uniform(0.0, 0.45)
        x = max(0, x + piece.shape[1] + int(gap * height))
    ink = ink[:, : x + height // 2]
    if rng.random() < 0.6:
        shear = rng.uniform(0.1, 0.7) if rng.random() < 0.8 else rng.uniform(-0.3, 0.0)
        ink = lean(ink, shear)
    if rng.random() < 0.2:
        ink = np.asarray(
            Image.fromarray(ink).rotate(rng.uniform(-4, 4), Image.Resampling.BILINEAR, expand=True), np.float32
        )
    return pen_width(ink, rng)


def scene(ink: np.ndarray, rng: np.random.Generator, kind: str) -> bytes:
    """Put a written line (``write_line``) in a scene of ``SCENES``: the bytes a user would send (a PNG of the
    page's transparent canvas, a JPEG of paper)."""
    if kind == "canvas":
        scale = rng.uniform(1.5, 4.0)
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        big = np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BILINEAR), np.float32)
        big = pen_width(big, rng)
        rgba = np.zeros((*big.shape, 4), np.uint8)
        rgba[:, :, 3] = np.round(np.clip(big, 0, 1) * 255)
        return encode_png(rgba)
    ink = ink.copy()
    height = ink.shape[0]
    if kind == "small photo":
        target = rng.uniform(22, 48)  # px: the whole line's box, digits about half of it
        scale = target / height
        size = (max(8, round(ink.shape[1] * scale)), max(8, round(height * scale)))
        ink = np.array(Image.fromarray(ink).resize(size, Image.Resampling.BOX), np.float32)
        ink /= max(float(ink.max()), 1e-6)
        return camera(paper(ink, rng), rng, quality=(30, 80))
    if kind == "paper":
        if rng.random() < 0.5:  # a ruled line or underline under the digits, or lines across the whole sheet
            for y in (
                [int(height * rng.uniform(0.7, 0.8))]
                if rng.random() < 0.6
                else range(int(rng.integers(2, 8)), height, int(height * rng.uniform(0.45, 0.6)))
            ):
                ink[y : y + int(rng.integers(1, 3))] = np.maximum(ink[y : y + 1], rng.uniform(0.3, 0.9))
        return camera(paper(ink, rng), rng)
    # "scan": a crop from a scanned register: a black margin on one side, a column rule, a cross beside.
    pad = int(height * rng.uniform(0.2, 0.8))
    ink = np.pad(ink, ((pad, pad), (pad + int(height * rng.uniform(0, 1.5)), pad + int(height * rng.uniform(0, 2)))))
    h, w = ink.shape
    if rng.random() < 0.7:
        rule = (
            int(rng.integers(0, max(1, int(0.15 * w)))) if rng.random() < 0.5 else int(rng.integers(int(0.85 * w), w))
        )
        ink[:, rule : rule + int(rng.integers(1, 4))] = rng.uniform(0.5, 1.0)
    if rng.random() < 0.6:
        size = int(height * rng.uniform(0.3, 0.6))
        cross = _drawn(
            (size, size),
            lambda d: (
                d.line([(0, 0), (size, size)], fill=255, width=2),
                d.line([(0, size), (size, 0)], fill=255, width=2),
            ),
        )
        x = int(rng.integers(max(1, w - size - pad), max(2, w - size)))
        y = int(rng.integers(0, max(1, h - size)))
        region = ink[y : y + size, x : x + size]
        np.maximum(region, cross[: region.shape[0], : region.shape[1]], out=region)
    grey = paper(ink, rng, level=rng.uniform(0.75, 0.97))
    side = rng.integers(4)
    margin = int((w if side == 0 else h) * rng.uniform(0.03, 0.12))  # a margin above or below stays off the digits
    if side == 0:
        grey[:, :margin] = rng.uniform(0.0, 0.15)
    elif side == 1:
        grey[:margin] = rng.uniform(0.0, 0.15)
    elif side == 2:
        grey[-margin:] = rng.uniform(0.0, 0.15)
    return camera(grey, rng)


def line_sample(
    rng: np.random.Generator,
    mnist_digits,
    part: str = "train",
    kind: str | None = None,
    text: str | None = None,
    finer: bool = False,
) -> tuple[Line, str, str]:
    """One training or test example: (the line of a synthetic scene, its text, the scene's kind). The line is
    ``recognizer.finer.served_line``'s: ``line.find_line``'s, found again finer in a small photo where ``finer``.

    Raises recognizer.decode.PreprocessingError where the scene lost its ink (rare: a faint photo)."""
    text = text or random_text(rng)
    kind = kind or str(rng.choice(list(SCENES), p=list(SCENES.values())))
    grey = decode_image(scene(write_line(text, rng, mnist_digits, part), rng, kind))
    return served_line(grey, finer), text, kind


def number_images(
    count: int, seed: int, mnist_digits, part: str = "eval", with_ink: bool = False, signed: bool = False
):
    """Yield ``count`` (image bytes, text, scene kind) held-out numbers: ``part`` "eval" uses the fonts apart from
    training's; pass MNIST test digits and a seed apart from training's. ``with_ink``: each tuple ends with the
    line's written ink (``write_line``) as well, before any scene. ``signed``: texts of ``signed_text``."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        text = signed_text(rng) if signed else random_text(rng)
        kind = str(rng.choice(list(SCENES), p=list(SCENES.values())))
        ink = write_line(text, rng, mnist_digits, part)
        data = scene(ink, rng, kind)
        yield (data, text, kind, ink) if with_ink else (data, text, kind)

"""Scenes that look like photos and scans: ink on paper through a camera, Sudoku cells and handwritten amounts
with the ink of each digit marked, and photos of writing on a sheet.

Scenes are JPEG bytes from a ``numpy.random.Generator``; ``cell_scene`` and ``amount_scene`` also return which
digit owns each pixel, which ``synth.labels.pipeline_samples`` turns into training labels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from recognizer.decode import decode_image
from recognizer.normalize import INK_THRESHOLD
from synth.canvas import encode
from synth.digits import digit_ink
from synth.ink import draw_ink, lean

# ``amount_scene``: half the amounts are leaned as a whole by this much more than their digits' own slant.
AMOUNT_SLANT = (0.2, 0.8)


def paper(ink: np.ndarray, rng: np.random.Generator, level: float | None = None) -> np.ndarray:
    """Put ink on paper: grey float32 (H, W), 1 = white, with texture, a lighting gradient and noise."""
    height, width = ink.shape
    level = rng.uniform(0.55, 0.97) if level is None else level
    texture = rng.normal(0, 1, (max(2, height // 3), max(2, width // 3))).astype(np.float32)
    texture = np.asarray(Image.fromarray(texture).resize((width, height), Image.Resampling.BILINEAR), np.float32)
    sheet = level + 0.015 * texture
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    sheet = sheet * (1.0 - rng.uniform(0.0, 0.3) * (np.cos(angle) * xx + np.sin(angle) * yy).clip(0, None))
    darkness = rng.uniform(0.55, 0.95)
    grey = sheet * (1.0 - darkness * np.clip(ink, 0, 1))
    return np.clip(grey + rng.normal(0, rng.uniform(0.0, 0.03), grey.shape), 0, 1).astype(np.float32)


def camera(grey: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (40, 92)) -> bytes:
    """Blur and compress a grey image as a phone or a scanner would: JPEG bytes (sometimes RGB, tinted)."""
    image = Image.fromarray(np.round(grey * 255).astype(np.uint8))
    radius = rng.uniform(0.0, 1.4)
    if radius > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    if rng.random() < 0.4:
        tint = rng.uniform(0.85, 1.0, 3)
        image = Image.merge("RGB", [image.point(lambda v, t=t: v * t) for t in tint])
    return encode(image, "JPEG", quality=int(rng.integers(*quality)))


def rephotograph(data: bytes, rng: np.random.Generator) -> bytes:
    """Photograph a real photo of a cell again, a little differently: JPEG bytes of the same content.

    ``data``: image bytes (a cell of ``sudoku_cells_train``). The cell is cut again with each edge moved
    by up to 8% of its side (more or less of the grid in the frame, as a grid detector cuts it), turned by
    up to 4 degrees, given another exposure (gain, offset, gamma) and a lighting gradient, then blurred and
    compressed by ``camera``. Trained on as-is only, the network learnt the training puzzles' cells (97% of
    them read right, against 87% of the validation puzzles').
    """
    grey = decode_image(data)
    height, width = grey.shape
    pad = max(2, round(0.1 * max(height, width)))
    grey = np.pad(grey, pad, mode="edge")
    size = np.array([width, height], np.float64)
    x0, y0 = pad + rng.uniform(-0.08, 0.08, 2) * size
    x1, y1 = pad + size + rng.uniform(-0.08, 0.08, 2) * size
    turned = Image.fromarray(grey).rotate(
        rng.uniform(-4, 4),
        Image.Resampling.BILINEAR,
        center=((x0 + x1) / 2, (y0 + y1) / 2),
        fillcolor=float(np.median(grey)),
    )
    cell = np.asarray(turned.crop((round(x0), round(y0), round(x1), round(y1))), np.float32)
    ys, xs = np.mgrid[0 : cell.shape[0], 0 : cell.shape[1]]
    direction = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(direction) * xs / cell.shape[1] + np.sin(direction) * ys / cell.shape[0]) * rng.uniform(0, 0.25)
    cell = np.clip(cell, 0.0, 1.0) ** rng.uniform(0.7, 1.4)
    cell = np.clip(rng.uniform(0.7, 1.15) * cell + rng.uniform(-0.1, 0.1) - gradient, 0.0, 1.0)
    return camera(cell, rng, quality=(35, 90))


def _paste(canvas: np.ndarray, owner: np.ndarray, ink: np.ndarray, x: int, y: int, tag: int) -> tuple:
    """Max-composite ink into canvas at (x, y) (clipped); mark its pixels in ``owner`` with ``tag``."""
    h = min(ink.shape[0], canvas.shape[0] - y)
    w = min(ink.shape[1], canvas.shape[1] - x)
    if h <= 0 or w <= 0:
        return (x, y, 0, 0)
    piece = ink[:h, :w]
    region = canvas[y : y + h, x : x + w]
    mine = piece > np.maximum(region, INK_THRESHOLD)
    owner[y : y + h, x : x + w][mine] = tag
    np.maximum(region, piece, out=region)
    return (x, y, w, h)


def cell_scene(rng: np.random.Generator, mnist_digits, content: str = "digit", part: str = "train"):
    """A Sudoku cell cut from a phone photo: (jpeg_bytes, owner (H, W) int16, labels).

    ``content``: "digit" (printed or handwritten, off-centre), "blank" or "candidates" (tiny pencil digits).
    The cell's crop takes in parts of the grid's lines at its edges. ``owner`` marks the k-th digit's pixels
    with k (0 elsewhere); ``labels`` = [digit], [] or, for candidates, None for each pencil digit: a span
    that is one of them alone is left out of training (``pipeline_samples``), since normalised to MNIST's
    box it is a well-formed digit, and taught as "not a digit" it made real digits "not a digit" (measured:
    the network gave a quarter of them P(not a digit) > 0.84).
    """
    side = int(rng.integers(64, 150))
    ink = np.zeros((side, side), np.float32)
    owner = np.zeros((side, side), np.int16)
    labels = []
    if content == "digit":
        label = int(rng.integers(1, 10))
        glyph = digit_ink(label, rng, mnist_digits, int(side * rng.uniform(0.35, 0.7)), 0.6, part)
        x = int(rng.integers(0, max(1, side - glyph.shape[1]))) if rng.random() < 0.3 else (side - glyph.shape[1]) // 2
        y = (side - glyph.shape[0]) // 2 + int(rng.integers(-side // 10, side // 10 + 1))
        _paste(ink, owner, glyph, max(0, x), max(0, y), 1)
        labels = [label]
    elif content == "candidates":
        for k in range(int(rng.integers(1, 5))):
            glyph = digit_ink(
                int(rng.integers(1, 10)), rng, mnist_digits, int(side * rng.uniform(0.12, 0.22)), 0.3, part
            )
            x, y = (rng.integers(1, 4, 2) * side) // 4 - np.array(glyph.shape[::-1]) // 2
            _paste(ink, owner, glyph, int(max(0, x)), int(max(0, y)), k + 1)
            labels.append(None)
    # Grid lines: the cell's border, partly inside the crop, thin or thick, on 1 to 4 sides.
    darkness = rng.uniform(0.5, 1.0)
    for edge in range(4):
        if rng.random() < 0.7:
            width = int(rng.integers(1, max(2, side // 12)))
            offset = int(rng.integers(0, max(1, side // 10)))
            # Edges 0 and 1 are the top and bottom rows, 2 and 3 the left and right columns.
            band = slice(offset, offset + width) if edge in (0, 2) else slice(side - offset - width, side - offset)
            where = band if edge < 2 else (slice(None), band)
            ink[where] = np.maximum(ink[where], darkness)
    return camera(paper(ink, rng), rng), owner, labels


def amount_scene(rng: np.random.Generator, mnist_digits, part: str = "train"):
    """A handwritten amount as on a cheque or a form: (jpeg_bytes, owner (H, W) int16, labels).

    2 to 7 digits (mostly handwritten), sometimes touching, with separators between them ("." "," "-" "="
    "/"), trailing or leading dashes, an underline or a ruled line, on textured paper. ``owner`` marks digit
    k's pixels with k + 1; ``labels`` lists the digits left to right.
    """
    count = int(rng.integers(1, 8))
    height = int(rng.integers(24, 64))
    labels = [int(v) for v in rng.integers(0, 10, count)]
    pieces = []  # (ink, tag)
    for i, label in enumerate(labels):
        if rng.random() < 0.25 and i > 0:
            pieces.append((separator(rng, height), 0))
        glyph = digit_ink(label, rng, mnist_digits, int(height * rng.uniform(0.8, 1.1)), 0.1, part)
        pieces.append((glyph, i + 1))
    if rng.random() < 0.4:
        pieces.append((separator(rng, height, trailing=True), 0))
    if rng.random() < 0.15:
        pieces.insert(0, (separator(rng, height, trailing=True), 0))
    width = sum(p.shape[1] for p, _ in pieces) + height * (len(pieces) + 1)
    canvas_h = int(height * rng.uniform(1.3, 2.0))
    ink = np.zeros((canvas_h, width), np.float32)
    owner = np.zeros((canvas_h, width), np.int16)
    x = int(rng.integers(2, height // 2 + 3))
    base = (canvas_h + height) // 2
    right = x
    for piece, tag in pieces:
        y = (
            base - piece.shape[0]
            if tag
            else base - piece.shape[0] // 2 - int(rng.uniform(0, 0.5) * height)
            if piece.shape[0] < height / 3
            else base - piece.shape[0]
        )
        y = int(np.clip(y + rng.integers(-height // 10, height // 10 + 1), 0, canvas_h - piece.shape[0]))
        _paste(ink, owner, piece, x, y, tag)
        right = x + piece.shape[1]
        gap = int(height * rng.uniform(-0.1, 0.35)) if tag else int(height * rng.uniform(0.05, 0.3))
        x = max(0, right + gap)
    ink = ink[:, : min(width, right + int(rng.integers(2, height // 2 + 3)))]
    owner = owner[:, : ink.shape[1]]
    if rng.random() < 0.5:  # a hand that leans forward leans the whole amount
        shear = rng.uniform(*AMOUNT_SLANT)
        ink, owner = lean(ink, shear), lean(owner, shear, Image.Resampling.NEAREST)
    if rng.random() < 0.4:  # an underline or the printed line the amount is written on
        y = int(np.clip(base + rng.integers(0, height // 4 + 1), 0, canvas_h - 2))
        ink[y : y + int(rng.integers(1, 4))] = np.maximum(ink[y : y + 1], rng.uniform(0.4, 1.0))
    return camera(paper(ink, rng), rng), owner, labels


def separator(rng: np.random.Generator, height: int, trailing: bool = False) -> np.ndarray:
    """A handwritten separator: a dot, a comma, a dash, an equals sign or a slash, scaled to ``height``."""
    kind = rng.choice(["-", "=", ".-"]) if trailing else rng.choice([".", ",", "-", "=", "/", "."])
    w = max(3, round(height * rng.uniform(0.08, 0.14)))
    stroke = max(2, w // 2)
    if kind == ".":
        return draw_ink((w + 2, w + 2), lambda d: d.ellipse([1, 1, w, w], fill=255))
    if kind == ",":
        return draw_ink((w + 2, 2 * w + 2), lambda d: d.line([(w, 1), (1, 2 * w)], fill=255, width=w))
    if kind == "/":
        return draw_ink(
            (height // 2, height), lambda d: d.line([(height // 2 - 2, 1), (2, height - 2)], fill=255, width=stroke)
        )
    length = int(height * rng.uniform(0.3, 0.7))
    if kind == "-":
        return draw_ink((length, w), lambda d: d.line([(0, w / 2), (length, w / 2)], fill=255, width=stroke))
    if kind == "=":
        return draw_ink(
            (length, 3 * w),
            lambda d: (
                d.line([(0, w / 2), (length, w / 2)], fill=255, width=stroke),
                d.line([(0, 2.5 * w), (length, 2.5 * w)], fill=255, width=stroke),
            ),
        )
    # ".-": a dot, a gap, then a dash, bottom-aligned.
    dot = draw_ink((w + 2, w + 2), lambda d: d.ellipse([1, 1, w, w], fill=255))
    dash = draw_ink((length, w + 2), lambda d: d.line([(0, w / 2), (length, w / 2)], fill=255, width=stroke))
    return np.concatenate([dot, np.zeros((w + 2, w), np.float32), dash], axis=1)


def photo(ink: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> bytes:
    """Photograph writing on a sheet of paper: JPEG bytes of an RGB image ``size`` (w, h).

    ``ink``: uint8 (H, W), 255 = ink (an MNIST digit or a composed number). The writing is scaled to 30-55%
    of the photo's height, rotated by up to 8 degrees and placed off-centre on textured paper with a lighting
    gradient, a soft shadow over part of the sheet, sensor noise and JPEG compression (quality 55-85).
    """
    width, height = size
    text = Image.fromarray(ink)
    scale = rng.uniform(0.30, 0.55) * height / text.height
    scaled_size = (max(1, round(text.width * scale)), max(1, round(text.height * scale)))
    text = text.resize(scaled_size, Image.Resampling.BICUBIC)
    text = text.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, expand=True)
    text = np.asarray(text, np.float32)[: height - 4, : width - 4] / 255.0
    top = int(rng.integers(2, height - text.shape[0] - 1))
    left = int(rng.integers(2, width - text.shape[1] - 1))
    writing = np.zeros((height, width), np.float32)
    writing[top : top + text.shape[0], left : left + text.shape[1]] = text
    grey = paper(writing, rng, level=rng.uniform(0.85, 0.95))
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    edge = np.cos(angle) * xx + np.sin(angle) * yy
    shadow = Image.fromarray(((edge > np.median(edge)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(12))
    grey = grey * (1.0 - rng.uniform(0.2, 0.35) * np.asarray(shadow, np.float32) / 255.0)
    tint = np.array([1.0, 0.97, 0.9])  # warm indoor light
    rgb = np.clip(grey[:, :, None] * tint * 255, 0, 255).astype(np.uint8)
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(55, 86)))

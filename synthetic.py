"""Synthetic inputs, made in one place for training, evaluation, tests and benchmarks.

- Drawings as a browser sends them: MNIST digits on a canvas (``canvas_from_mnist``) and digits drawn with a
  pen's strokes (``stroke_digit``), including the European styles MNIST lacks (a 1 with a flag and a base,
  a crossed 7, a closed 4, a curled 9).
- Marks that are not digits (``non_digit``): lines, grid crossings, box corners and borders, a dark band at an
  edge, dots and taps, blobs, punctuation, scribbles, partial digits, letters, empty paper.
- Scenes that look like photos and scans (``cell_scene``, ``amount_scene``, ``photo``): digits and numbers on
  paper with grid lines, boxes, underlines and separators, shadow, blur, noise and JPEG.
- ``pipeline_samples`` runs a scene through the request path's own segmentation and labels every span it
  proposes from the scene's ink ownership: the network trains on exactly what it will be asked to read.

Ink images are float32 (H, W) in [0, 1], 1 = ink. Every generator takes a ``numpy.random.Generator``, so a
seed fixes its output. Fonts come from Matplotlib's folder and /usr/share/fonts (Debian's fonts-* packages);
``fonts("train")`` and ``fonts("eval")`` are disjoint, so measured non-digits are made apart from training ones.
"""

from __future__ import annotations

import io
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from recognizer.decode import PreprocessingError, decode_image
from recognizer.mnist import IMAGE_SIZE, NOT_A_DIGIT
from recognizer.normalize import INK_THRESHOLD, to_mnist_box
from recognizer.png import encode_png
from recognizer.segment import segment

# Symbol and decorative fonts whose digits are not digits.
FONT_EXCLUDE = ("cmex", "cmsy", "cmmi", "STIXSiz", "STIXNonUni", "LastResort", "Dingbat", "Symbol", "D050000L",
                "Z003", "DejaVuSansDisplay", "DejaVuSerifDisplay", "LinLibertine_M", "LinBiolinum_K")
# Letters that look like no digit (O, I, l, Z, S, B, G, b, q, g look like 0, 1, 2, 5, 8, 6, 9).
LETTERS = "ACEFHKLMNPRUVWXYcefhkmnprtuvwxy"
# No "/" or "|": cropped to its bounding box as every mark is, a slash is a slanted 1 (see non_digit).
PUNCTUATION = ".,-=+×÷:;_*#%"
NON_DIGIT_KINDS = ("line", "grid crossing", "box corner", "border", "edge band", "dot", "blob", "punctuation",
                   "scribble", "partial digit", "letter", "paper")
PARTIAL_EXCLUDE = (1, 7)  # half of a 1 or a 7 is still a 1 or a 7
# Halves that are whole digits of their own: either half of an 8, and a 9's head or a 6's belly, is a 0.
PARTIAL_LOOPS = {(8, 0), (8, 1), (9, 0), (6, 1)}  # (label, cut): cut 0 keeps the top half, 1 the bottom
# Every mark is cropped to its bounding box before the network sees it, so a bar of any length that leans no
# more than a slanted hand's 1 is a 1. Hands that lean forward write 1s as strokes up to 45 degrees from
# vertical (the cheque amounts' 1s, which the network took for lines at 35 degrees: a bar at 45 degrees read
# "not a digit" at 0.68), so a bar within ONE_TILT of vertical is a 1, never a negative, and a line negative
# leans at least LINE_MIN_TILT (within 30 degrees of horizontal: a dash, an underline, a ruled line); the bars
# between are taught neither way.
LINE_MIN_TILT = np.radians(60)
ONE_ELONGATION = 3.0  # a mark whose ink is this many times longer than wide ...
ONE_TILT = np.radians(45)  # ... along an axis this close to vertical is a 1, never a negative (one_like)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Return the bytes of a Pillow ``image`` saved in ``fmt`` (PNG through ``recognizer.png`` for arrays)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# Drawings as the page sends them
# ------------------------------------------------------------------------------------------------


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
    "9 curled": [[(0.85, 0.25), (0.5, 0.0), (0.15, 0.2), (0.2, 0.4), (0.5, 0.45), (0.85, 0.25), (0.8, 0.7),
                  (0.6, 0.95), (0.35, 1.0), (0.2, 0.85)]],
    "9": [[(0.85, 0.25), (0.5, 0.0), (0.15, 0.2), (0.2, 0.4), (0.5, 0.45), (0.85, 0.25), (0.8, 1.0)]],
    "9 loop": [[(0.45, 0.47), (0.8, 0.35), (0.85, 0.12), (0.6, 0.0), (0.3, 0.02), (0.13, 0.2), (0.2, 0.4),
                (0.45, 0.47), (0.42, 1.0)]],
}
# The lean of a styled digit: a horizontal shear, pixels across per pixel down, forward (the top to the right)
# positive. MNIST's own writers lean forward up to 0.58 and back up to 0.35 (the 5th and 95th percentiles of the
# second-moment slant of ``slant`` over 20,000 training digits); a hand that leans forward writes its 1s as
# slanted strokes whose flag meets the stem like a 7's bar (cheque amounts), which upright styled 1s never taught.
STYLE_SHEAR = (-0.35, 0.58)
ONE_SHEAR = (-0.35, 1.0)  # a 1 is one stroke, and a forward hand leans it up to 45 degrees (see ONE_TILT)
# ``slanted_digit``: MNIST digits leaned as a forward hand writes them, past MNIST's own 95th percentile (0.58)
# up to 45 degrees; BACK_SLANT_SHARE of them lean back instead, as a left-handed writer's may.
SLANT = (0.45, 1.0)
BACK_SLANT = (-0.6, -0.35)
BACK_SLANT_SHARE = 0.15
# ``amount_scene``: half the amounts are leaned as a whole by this much more than their digits' own slant.
AMOUNT_SLANT = (0.2, 0.8)
STYLES = {"1": ("1", "1 flag base", "1 flag"), "4": ("4", "4 closed", "4 open"), "7": ("7", "7 crossed"),
          "9": ("9", "9 curled", "9 loop"), "0": ("0",)}


def stroke_digit(digit: int | str, size: int = 280, width: int = 20, box: tuple[int, int, int] | None = None,
                 transparent: bool = True) -> Image.Image:
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


# ------------------------------------------------------------------------------------------------
# Ink helpers
# ------------------------------------------------------------------------------------------------


def crop_ink(ink: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Return ``ink`` cropped to the bounding box of its pixels above ``threshold`` (1x1 zero when none)."""
    rows = np.flatnonzero(ink.max(axis=1) > threshold)
    cols = np.flatnonzero(ink.max(axis=0) > threshold)
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    return np.ascontiguousarray(ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1], dtype=np.float32)


def resize_ink(ink: np.ndarray, height: int) -> np.ndarray:
    """Scale ink to ``height`` pixels, keeping its aspect ratio (bilinear)."""
    scale = height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), max(1, height))
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BILINEAR), np.float32)


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


@lru_cache(maxsize=1)
def _all_fonts() -> tuple[Path, ...]:
    folders = [Path(p) for p in os.environ.get("SYNTH_FONT_DIRS", "").split(os.pathsep) if p]
    try:
        import matplotlib

        folders.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    folders.append(Path("/usr/share/fonts"))
    found = set()
    for folder in folders:
        if folder.is_dir():
            found.update(p for p in folder.rglob("*") if p.suffix.lower() in (".ttf", ".otf")
                         and not any(x in p.name for x in FONT_EXCLUDE))
    usable = []
    for path in sorted(found, key=lambda p: p.name):
        try:
            font = ImageFont.truetype(str(path), 40)
            if font.getbbox("0")[3] > font.getbbox("0")[1] and font.getbbox("8") != font.getbbox("A"):
                usable.append(path)
        except OSError:
            continue
    return tuple(usable)


def fonts(part: str = "train") -> list[Path]:
    """Return the usable fonts of one part: "train" (about three in four) or "eval" (the rest), disjoint.

    Fonts are found in $SYNTH_FONT_DIRS, Matplotlib's font folder and /usr/share/fonts. A font's part is
    decided by a checksum of its file name, so it is the same on every machine whatever other fonts it has.
    Raises RuntimeError when there is none (install matplotlib or a Debian fonts-* package).
    """
    everything = _all_fonts()
    if not everything:
        raise RuntimeError("No fonts found: install matplotlib or Debian's fonts-dejavu-core.")
    chosen = [f for f in everything if (zlib.crc32(f.name.encode()) % 4 == 3) == (part == "eval")]
    return chosen or list(everything)


def render_text(text: str, font: Path, height: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Render ``text`` in ``font`` with glyphs about ``height`` pixels high: ink float32 cropped to its box."""
    face = ImageFont.truetype(str(font), max(8, height))
    left, top, right, bottom = face.getbbox(text)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), text, fill=255, font=face)
    ink = crop_ink(np.asarray(canvas, np.float32) / 255.0)
    if rng is not None and rng.random() < 0.5:  # an italic or condensed print
        shear = rng.uniform(-0.2, 0.2)
        h, w = ink.shape
        pad = int(abs(shear) * h) + 1
        img = Image.fromarray(ink).transform((w + pad, h), Image.Transform.AFFINE,
                                             (1, shear, -pad if shear > 0 else 0, 0, 1, 0), Image.Resampling.BILINEAR)
        ink = crop_ink(np.asarray(img, np.float32))
    return ink


def printed_digit(label: int, rng: np.random.Generator, part: str = "train", height: int = 48) -> np.ndarray:
    """Render one digit in a random font of ``fonts(part)``: ink float32 cropped to its box."""
    font_list = fonts(part)
    return render_text(str(label), font_list[int(rng.integers(len(font_list)))], height, rng)


def mnist_ink(digit: np.ndarray, height: int = 48) -> np.ndarray:
    """Return an MNIST digit (uint8 (28, 28), ink = 255) cropped to its ink and scaled to ``height`` px."""
    return resize_ink(crop_ink(digit.astype(np.float32) / 255.0), height)


def lean(image: np.ndarray, shear: float, resample=Image.Resampling.BILINEAR) -> np.ndarray:
    """Shear ``image`` (H, W) horizontally: ``shear`` pixels across per pixel down, the top moving right for
    ``shear`` > 0 (a forward lean, the sign of ``slant``). Returns (H, W + ceil(|shear| * (H - 1))) of the same
    dtype, nothing cut off; ``resample`` NEAREST keeps integer labels (an owner map) whole."""
    height, width = image.shape
    extra = int(np.ceil(abs(shear) * (height - 1)))
    # Pillow maps each output pixel (x, y) back to the input pixel (x + shear * y + offset, y).
    offset = -shear * (height - 1) if shear > 0 else 0.0
    mode_array = image.astype(np.float32 if resample != Image.Resampling.NEAREST else np.int32)
    out = Image.fromarray(mode_array).transform((width + extra, height), Image.Transform.AFFINE,
                                                (1, shear, offset, 0, 1, 0), resample=resample)
    return np.asarray(out).astype(image.dtype)


def slanted_digit(digit: np.ndarray, rng: np.random.Generator, height: int = 48) -> np.ndarray:
    """Lean an MNIST digit (uint8 (28, 28), ink = 255) to a random slant of ``SLANT`` (``BACK_SLANT`` in
    ``BACK_SLANT_SHARE`` of draws), whatever its own: ink float32 cropped to its box, ``height`` px tall."""
    ink = mnist_ink(digit, height)
    target = rng.uniform(*(BACK_SLANT if rng.random() < BACK_SLANT_SHARE else SLANT))
    return crop_ink(lean(ink, target - slant(ink)))


# ------------------------------------------------------------------------------------------------
# Marks that are not digits
# ------------------------------------------------------------------------------------------------


def _draw(size: tuple[int, int], paint) -> np.ndarray:
    canvas = Image.new("L", size, 0)
    paint(ImageDraw.Draw(canvas))
    return np.asarray(canvas, np.float32) / 255.0


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
    if kind == "line":
        # At least LINE_MIN_TILT away from vertical, either way.
        angle = rng.uniform(-(np.pi / 2 - LINE_MIN_TILT), np.pi / 2 - LINE_MIN_TILT)
        length = side * rng.uniform(0.4, 1.0)
        cx, cy = rng.uniform(0.3, 0.7, 2) * side
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        if rng.random() < 0.5:  # most ruled lines are horizontal (a vertical one, cropped, is a 1)
            dx, dy = length / 2, 0
        ink = _draw((side, side), lambda d: d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=255, width=width))
    elif kind == "grid crossing":
        x, y = rng.uniform(0.2, 0.8, 2) * side
        ink = _draw((side, side), lambda d: (d.line([(x, 0), (x, side)], fill=255, width=width),
                                             d.line([(0, y), (side, y)], fill=255, width=width)))
        if rng.random() < 0.5:  # a T or an L: one arm cut short
            ink[: int(y) - width, :] *= 0 if rng.random() < 0.5 else 1
    elif kind == "box corner":
        x, y = rng.uniform(0.1, 0.5, 2) * side
        ink = _draw((side, side), lambda d: d.line([(x, side), (x, y), (side, y)], fill=255, width=width))
    elif kind == "border":
        x0, y0 = rng.uniform(0.0, 0.25, 2) * side
        x1, y1 = rng.uniform(0.75, 1.0, 2) * side
        ink = _draw((side, side), lambda d: d.rectangle([x0, y0, x1, y1], outline=255, width=width))
    elif kind == "edge band":
        band = round(side * rng.uniform(0.05, 0.3))
        ink = np.zeros((side, side), np.float32)
        # Top or bottom: a band down a side, cropped to its bounding box, is a thick 1 (line removal
        # takes real margins out before segmentation).
        region = (slice(0, band), slice(None)) if rng.random() < 0.5 else (slice(side - band, side), slice(None))
        ink[region] = rng.uniform(0.5, 1.0)
    elif kind == "dot":
        r = side * rng.uniform(0.02, 0.08)
        x, y = rng.uniform(0.3, 0.7, 2) * side
        ink = _draw((side, side), lambda d: d.ellipse([x - r, y - r * rng.uniform(0.6, 1.4), x + r, y + r], fill=255))
    elif kind == "blob":
        ink = _draw((side, side), lambda d: [d.ellipse(sorted_box(rng.uniform(0.1, 0.9, 4) * side), fill=255)
                                             for _ in range(int(rng.integers(1, 4)))])
        ink = elastic(ink, rng, 0.05)
    elif kind == "punctuation":
        font_list = fonts(part)
        mark = PUNCTUATION[int(rng.integers(len(PUNCTUATION)))]
        ink = render_text(mark, font_list[int(rng.integers(len(font_list)))], int(rng.integers(24, 72)), rng)
    elif kind == "scribble":
        def paint(d):
            for _ in range(int(rng.integers(1, 4))):
                points = np.cumsum(rng.normal(0, side / 6, (int(rng.integers(4, 10)), 2)), axis=0) + side / 2
                d.line([tuple(p) for p in points.clip(2, side - 2)], fill=255, width=width, joint="curve")
        ink = _draw((side, side), paint)
    elif kind == "partial digit":
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
                digit[(rows[0] + rows[-1]) // 2:] = 0
            elif cut == 1:
                digit[: (rows[0] + rows[-1]) // 2] = 0
            elif cut == 2:
                digit[:, (cols[0] + cols[-1]) // 2:] = 0
            else:
                digit[:, : (cols[0] + cols[-1]) // 2] = 0
            break
        ink = resize_ink(crop_ink(digit), side // 2)
    elif kind == "letter":
        font_list = fonts(part)
        letter = LETTERS[int(rng.integers(len(LETTERS)))]
        ink = render_text(letter, font_list[int(rng.integers(len(font_list)))], int(rng.integers(32, 96)), rng)
        ink = elastic(ink, rng, 0.05)
    elif kind == "paper":
        noise = rng.normal(0, 1, (side // 4, side // 4)).astype(np.float32)
        ink = np.asarray(Image.fromarray(noise).resize((side, side), Image.Resampling.BICUBIC), np.float32)
        ink = np.clip((ink - 1.2) * 0.5, 0, 1)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if kind not in ("edge band", "paper", "dot"):
        ink = pen_width(ink, rng)
    return ink.astype(np.float32)


def sorted_box(values) -> list[float]:
    """Return [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1 from four numbers."""
    x0, y0, x1, y1 = values
    return [min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1]


# ------------------------------------------------------------------------------------------------
# Scenes: what a camera or a scanner sends
# ------------------------------------------------------------------------------------------------


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
    turned = Image.fromarray(grey).rotate(rng.uniform(-4, 4), Image.Resampling.BILINEAR,
                                          center=((x0 + x1) / 2, (y0 + y1) / 2), fillcolor=float(np.median(grey)))
    cell = np.asarray(turned.crop((round(x0), round(y0), round(x1), round(y1))), np.float32)
    ys, xs = np.mgrid[0:cell.shape[0], 0:cell.shape[1]]
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
    region = canvas[y: y + h, x: x + w]
    mine = piece > np.maximum(region, INK_THRESHOLD)
    owner[y: y + h, x: x + w][mine] = tag
    np.maximum(region, piece, out=region)
    return (x, y, w, h)


def digit_ink(label: int, rng: np.random.Generator, mnist_digits, height: int, printed_share: float,
              part: str = "train") -> np.ndarray:
    """One digit's ink at ``height`` px: printed in a font, drawn in a European style, or an MNIST hand."""
    pick = rng.random()
    if pick < printed_share:
        return resize_ink(printed_digit(label, rng, part), height)
    if str(label) in STYLES and pick < printed_share + 0.15:
        return resize_ink(styled_digit(str(label), rng), height)
    images, labels = mnist_digits
    choices = np.flatnonzero(labels == label)
    return pen_width(mnist_ink(images[int(rng.choice(choices))], height), rng)


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
            glyph = digit_ink(int(rng.integers(1, 10)), rng, mnist_digits, int(side * rng.uniform(0.12, 0.22)), 0.3, part)
            x, y = (rng.integers(1, 4, 2) * side) // 4 - np.array(glyph.shape[::-1]) // 2
            _paste(ink, owner, glyph, int(max(0, x)), int(max(0, y)), k + 1)
            labels.append(None)
    # Grid lines: the cell's border, partly inside the crop, thin or thick, on 1 to 4 sides.
    darkness = rng.uniform(0.5, 1.0)
    for edge in range(4):
        if rng.random() < 0.7:
            width = int(rng.integers(1, max(2, side // 12)))
            offset = int(rng.integers(0, max(1, side // 10)))
            if edge == 0:
                ink[offset: offset + width] = np.maximum(ink[offset: offset + width], darkness)
            elif edge == 1:
                ink[side - offset - width: side - offset] = np.maximum(ink[side - offset - width: side - offset], darkness)
            elif edge == 2:
                ink[:, offset: offset + width] = np.maximum(ink[:, offset: offset + width], darkness)
            else:
                ink[:, side - offset - width: side - offset] = np.maximum(ink[:, side - offset - width: side - offset], darkness)
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
        y = base - piece.shape[0] if tag else base - piece.shape[0] // 2 - int(rng.uniform(0, 0.5) * height) \
            if piece.shape[0] < height / 3 else base - piece.shape[0]
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
        ink[y: y + int(rng.integers(1, 4))] = np.maximum(ink[y: y + 1], rng.uniform(0.4, 1.0))
    return camera(paper(ink, rng), rng), owner, labels


def separator(rng: np.random.Generator, height: int, trailing: bool = False) -> np.ndarray:
    """A handwritten separator: a dot, a comma, a dash, an equals sign or a slash, scaled to ``height``."""
    kind = rng.choice(["-", "=", ".-"]) if trailing else rng.choice([".", ",", "-", "=", "/", "."])
    w = max(3, round(height * rng.uniform(0.08, 0.14)))
    if kind == ".":
        return _draw((w + 2, w + 2), lambda d: d.ellipse([1, 1, w, w], fill=255))
    if kind == ",":
        return _draw((w + 2, 2 * w + 2), lambda d: d.line([(w, 1), (1, 2 * w)], fill=255, width=w))
    if kind == "/":
        return _draw((height // 2, height), lambda d: d.line([(height // 2 - 2, 1), (2, height - 2)], fill=255, width=max(2, w // 2)))
    length = int(height * rng.uniform(0.3, 0.7))
    if kind == "-":
        return _draw((length, w), lambda d: d.line([(0, w / 2), (length, w / 2)], fill=255, width=max(2, w // 2)))
    if kind == "=":
        return _draw((length, 3 * w), lambda d: (d.line([(0, w / 2), (length, w / 2)], fill=255, width=max(2, w // 2)),
                                                 d.line([(0, 2.5 * w), (length, 2.5 * w)], fill=255, width=max(2, w // 2))))
    # ".-": a dot, a gap, then a dash, bottom-aligned.
    dot = _draw((w + 2, w + 2), lambda d: d.ellipse([1, 1, w, w], fill=255))
    dash = _draw((length, w + 2), lambda d: d.line([(0, w / 2), (length, w / 2)], fill=255, width=max(2, w // 2)))
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
    text = text.resize((max(1, round(text.width * scale)), max(1, round(text.height * scale))), Image.Resampling.BICUBIC)
    text = text.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, expand=True)
    text = np.asarray(text, np.float32)[: height - 4, : width - 4] / 255.0
    top = int(rng.integers(2, height - text.shape[0] - 1))
    left = int(rng.integers(2, width - text.shape[1] - 1))
    writing = np.zeros((height, width), np.float32)
    writing[top: top + text.shape[0], left: left + text.shape[1]] = text
    grey = paper(writing, rng, level=rng.uniform(0.85, 0.95))
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    edge = np.cos(angle) * xx + np.sin(angle) * yy
    shadow = Image.fromarray(((edge > np.median(edge)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(12))
    grey = grey * (1.0 - rng.uniform(0.2, 0.35) * np.asarray(shadow, np.float32) / 255.0)
    tint = np.array([1.0, 0.97, 0.9])  # warm indoor light
    rgb = np.clip(grey[:, :, None] * tint * 255, 0, 255).astype(np.uint8)
    return encode(Image.fromarray(rgb), "JPEG", quality=int(rng.integers(55, 86)))


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
        region = canvas[y: y + piece.shape[0], x: x + piece.shape[1]]
        np.maximum(region, piece[:, : region.shape[1]], out=region)
        x += piece.shape[1]
    return 255 - canvas


def mark_on_canvas(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Put a mark's ink on a transparent canvas as the page sends it: PNG bytes (RGBA, alpha = ink)."""
    side = int(max(ink.shape) * rng.uniform(1.1, 1.8)) + 4
    alpha = np.zeros((side, side), np.float32)
    y = int(rng.integers(0, side - ink.shape[0] + 1))
    x = int(rng.integers(0, side - ink.shape[1] + 1))
    alpha[y: y + ink.shape[0], x: x + ink.shape[1]] = ink
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[:, :, 3] = np.round(np.clip(alpha, 0, 1) * 255)
    return encode_png(rgba)


# ------------------------------------------------------------------------------------------------
# What the pipeline sees
# ------------------------------------------------------------------------------------------------

PURITY = 0.85  # a span is digit k when this share of its ink is k's ...
COVERAGE = 0.8  # ... and it holds this share of k's ink that the pipeline kept
AMBIGUOUS = (0.5, 0.8)  # spans between "clearly not k" and "clearly k" are left out of training


def pipeline_samples(data: bytes, owner: np.ndarray, labels: list[int | None], rng: np.random.Generator,
                     max_negatives: int = 3):
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
    owner = segmentation.in_unit_frame(owner)  # a deslanted number's units are cut with its rows moved
    kept = np.zeros(len(labels) + 1, np.int64)
    unit_owners = []
    for unit in segmentation.units:
        tags = owner[unit.y0: unit.y1, unit.x0: unit.x1][unit.ink > INK_THRESHOLD]
        counts = np.bincount(tags, minlength=len(labels) + 1)
        unit_owners.append(counts)
        kept += counts
    positives, negatives = [], []
    for first, last in segmentation.spans():
        counts = sum(unit_owners[first: last + 1])
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
    images = [np.round(segmentation.render(f, l).image * 255).astype(np.uint8) for f, l, _ in chosen]
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

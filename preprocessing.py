"""Turn an uploaded image into what the network expects: 28x28 MNIST-like digits.

The one pipeline used by the server, the evaluation (USPS, numbers, photos) and the tests:

    bytes --decode_image--> (H, W) grey, 1 = white --ink_map--> (H, W) ink, 1 = ink
          --segment--> units left to right --Segmentation.render--> (28, 28) per candidate digit

(``inference.predict_image`` lets the network choose which spans of units are digits.)
``normalize_digit`` is the same for an image of exactly one digit.

The normalisation (``to_mnist_box``) follows how MNIST itself was made (LeCun, Cortes & Burges, "The MNIST
database of handwritten digits"): "The original black and white (bilevel) images from NIST were
size normalized to fit in a 20x20 pixel box while preserving their aspect ratio. The resulting
images contain grey levels as a result of the anti-aliasing technique used by the normalization
algorithm. The images were centered in a 28x28 image by computing the center of mass of the
pixels, and translating the image so as to position this point at the center of the 28x28 field."

Every failure the client can cause raises a subclass of ``PreprocessingError`` whose message is a
sentence a person can act on; nothing else escapes from these functions.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from model import DIGIT_BOX, IMAGE_SIZE

# Formats a browser or a phone produces (Pillow's JPEG plugin also opens phones' MPO files).
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
MAX_PIXELS = 4096 * 4096  # refused from the header, before any pixel is decoded
INK_THRESHOLD = 0.25  # ink level (0..1) above which a pixel counts as part of a stroke
SPECK_FRACTION = 0.03  # components smaller than this share of the largest one are noise
# Photos of paper: a background this far from pure white or black (or uneven) is a photo, whose
# lighting is divided out (see _photo_ink); its noise and texture leave larger specks behind.
PHOTO_PAPER_LEVEL = 0.04
BORDER_UNIFORMITY = 0.6  # share of the border within 0.15 of its median for it to define the background
PHOTO_SPECK_FRACTION = 0.12
ILLUMINATION_SIDE = 160  # the lighting is estimated on a copy this many pixels on its longer side
MNIST_CENTRE = 14.0  # centre of mass of MNIST digits, in pixel-index coordinates (measured: 13.99, 14.00)
# Segmenting a number (segment). Components whose horizontal extents overlap by this share of
# the narrower one (at least 0.3 line heights wide, so a thin 1 is not swallowed by a neighbour)
# are one unit: the two strokes of a 4, the bar and body of a 5.
MERGE_OVERLAP = 0.5
# A unit wider than this many times its height (at least 0.8 line heights) may be touching digits:
# it is sliced at its columns of least ink into round(width / (DIGIT_ASPECT * height)) units.
# 11% of MNIST digits are wider than tall (20,000 training digits), so the network decides.
SPLIT_ASPECT = 1.1
DIGIT_ASPECT = 0.75
# A digit is read from at most MAX_SPAN consecutive units spanning at most MAX_DIGIT_WIDTH line
# heights, with gaps between them of at most MAX_JOIN_GAP line heights: the pieces of a broken
# digit nearly touch, while separate digits leave a visible gap.
MAX_SPAN = 3
MAX_DIGIT_WIDTH = 1.6
MAX_JOIN_GAP = 0.25
MAX_UNITS = 24
JPEG_DRAFT_SIDE = 1024  # large JPEGs are decoded at a reduced DCT scale, no smaller than this

# Pillow only warns between 89 M and 179 M pixels; decode_image refuses anything over MAX_PIXELS from
# the header anyway, so the warning is noise.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


class PreprocessingError(ValueError):
    """An image that cannot be read as a digit; ``str(error)`` is the message for the user."""


class ImageDecodeError(PreprocessingError):
    """The bytes are not an image in a supported format (or are corrupt)."""


class ImageTooLargeError(PreprocessingError):
    """The image's dimensions are over ``MAX_PIXELS``."""


class EmptyImageError(PreprocessingError):
    """The image decodes but holds no ink (a blank canvas)."""


_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?)(;base64)?,", re.I)


def decode_base64_image(text: str) -> bytes:
    """Return the bytes of a data URL (``data:image/png;base64,...``) or of bare base64 text.

    Raises ImageDecodeError when a data URL names a type that is not an image or when the
    base64 does not decode.
    """
    text = text.strip()
    match = _DATA_URL.match(text)
    if match:
        mime = (match.group("mime") or "").lower()
        if not mime.startswith("image/"):
            raise ImageDecodeError(f"The data URL is of type '{mime or 'text/plain'}'; send an image (image/png).")
        text = text[match.end():]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError("The image is not valid base64; send a data URL such as the canvas's toDataURL().") from exc


def decode_image(data: bytes) -> np.ndarray:
    """Decode PNG, JPEG, WebP, BMP or GIF bytes to a grey image, 1.0 = white paper.

    Returns float32 (H, W) in [0, 1]. Applies the EXIF orientation, takes the first frame of an
    animation and composites any transparency onto white, so a transparent canvas reads as a
    white sheet (not a black square). Checks the dimensions from the header before decoding.
    Raises ImageDecodeError for empty, unknown or corrupt data and ImageTooLargeError above
    ``MAX_PIXELS`` pixels.
    """
    if not data:
        raise ImageDecodeError("The image is empty; draw a digit or choose an image file.")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageTooLargeError(
                    f"The image is {width}x{height} pixels; send one of at most {MAX_PIXELS:,} pixels "
                    f"(for example 4096x4096)."
                )
            image.seek(0)  # the first frame of an animation; the others are never decoded
            if image.format == "JPEG" and image.mode in ("RGB", "L") and max(width, height) > 2 * JPEG_DRAFT_SIDE:
                # A phone photo: let libjpeg decode at 1/2..1/8 scale, straight to grey.
                scale = max(width, height) / JPEG_DRAFT_SIDE
                image.draft("L", (round(width / scale), round(height / scale)))
            ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
            return _to_grey(image)
    except PreprocessingError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image has too many pixels; send one of at most {MAX_PIXELS:,}.") from exc
    except Exception as exc:  # Pillow signals corrupt data with many exception types.
        raise ImageDecodeError(
            "The file could not be read as an image; send a PNG, JPEG, WebP, BMP or GIF."
        ) from exc


def _to_grey(image: Image.Image) -> np.ndarray:
    """Return float32 (H, W) grey in [0, 1] of a loaded Pillow image, transparency onto white."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        # 16-bit and 32-bit images: scale by their own range, not by 255 (Pillow's "L" clips).
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        if image.mode == "F":
            top = max(1.0, float(pixels.max()))
        return np.clip(pixels / top, 0.0, 1.0).astype(np.float32)
    if image.has_transparency_data:
        # Composite onto white: grey * alpha + white * (1 - alpha), from one "LA" conversion.
        if image.mode not in ("RGBA", "LA"):
            image = image.convert("RGBA")  # applies a palette's or tRNS transparency
        la = np.asarray(image.convert("LA"), dtype=np.float32) * (1.0 / 255.0)
        grey, alpha = la[:, :, 0], la[:, :, 1]
        return grey * alpha + (1.0 - alpha)
    return np.asarray(image.convert("L"), dtype=np.float32) * (1.0 / 255.0)


@dataclass
class Digit:
    """One candidate digit of an image, rendered by ``Segmentation.render``."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1: MNIST-normalised, the network's input
    box: tuple[int, int, int, int]  # (x, y, width, height) of its ink in the source image, pixels


def ink_map(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return the ink of a grey image, and whether it was read as a photo.

    ``grey``: float (H, W) in [0, 1]. Either polarity is accepted: the background level comes from
    ``_background_level``, so dark ink on light paper and light ink on a dark canvas both give
    ink = 1. A clean background (a canvas, a scan) is subtracted; a grey or uneven one (a photo of
    paper) goes through ``_photo_ink``.
    Returns float32 (H, W) in [0, 1], 1 = ink, 0 = background, and the photo flag.
    """
    grey = np.asarray(grey, dtype=np.float32)
    background = _background_level(grey)
    light_paper = background >= 0.5
    paper = min(background, 1.0 - background)  # the background's own ink level, at most 0.5
    if paper > PHOTO_PAPER_LEVEL and min(grey.shape) >= 32:
        return _photo_ink(grey if light_paper else 1.0 - grey), True
    ink = 1.0 - grey if light_paper else grey
    return np.clip((ink - paper) * (1.0 / (1.0 - paper)), 0.0, 1.0), False


def _background_level(grey: np.ndarray) -> float:
    """Return the background's grey level: the border's when the border is uniform, else the median.

    A thick digit can cover more than half of a tight crop (USPS zeros do), so the median of all
    pixels would be ink; the border of a drawing or a scan is background almost everywhere. A photo
    whose border shows a desk around the paper has a mixed border, and falls back to the median of
    a regular sample of about 1,000 pixels.
    """
    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    level = float(np.median(ring))
    if np.mean(np.abs(ring - level) < 0.15) >= BORDER_UNIFORMITY:
        return level
    step = max(1, int(np.sqrt(grey.size / 1024)))
    return float(np.median(grey[::step, ::step]))


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
    size = max(3, round(max(small.shape) / 10)) | 1  # odd, as rank filters need
    closed = Image.fromarray(small).filter(ImageFilter.MaxFilter(size)).filter(ImageFilter.MinFilter(size))
    # Smooth the estimate (8 bits are plenty for lighting), then scale it back to full size.
    smooth = Image.fromarray(np.round(np.clip(np.asarray(closed), 0.0, 1.0) * 255).astype(np.uint8))
    smooth = smooth.filter(ImageFilter.BoxBlur(size // 2)).resize((width, height), Image.Resampling.BILINEAR)
    paper = np.asarray(smooth, dtype=np.float32) * (1.0 / 255.0)
    ink = np.clip(1.0 - light / np.maximum(paper, 1e-3), 0.0, 1.0)
    threshold = otsu_threshold(ink)
    ink = np.where(ink > threshold, ink, 0.0)
    return (ink / max(float(ink.max()), 1e-6)).astype(np.float32)


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
    boxes: np.ndarray  # (count + 1, 4) int64 (x0, x1, y0, y1) per label, x1 and y1 exclusive


def label_components(mask: np.ndarray) -> Components:
    """Label the 8-connected components of a boolean (H, W) image, with their areas and boxes.

    The run-based two-scan method (He, Chao & Suzuki, "A run-based two-scan labeling algorithm",
    IEEE Trans. Image Processing 17(5), 2008): find the horizontal runs of each row, join runs
    of adjacent rows whose column ranges touch (diagonals included), resolve the equivalences with
    union-find, then paint the runs. Gives the same partition as scipy.ndimage.label with a 3x3
    structure (tests/test_preprocessing.py checks it), without SciPy's 140 MB in production.
    """
    height, width = mask.shape
    labels = np.zeros((height, width), np.int32)
    ink_rows = np.flatnonzero(mask.any(axis=1))
    if ink_rows.size == 0:
        return Components(labels, 0, np.zeros(1, np.int64), np.zeros((1, 4), np.int64))
    ink_cols = np.flatnonzero(mask.any(axis=0))
    top, left = int(ink_rows[0]), int(ink_cols[0])
    window = mask[top: ink_rows[-1] + 1, left: ink_cols[-1] + 1]  # only the inked region is scanned
    padded = np.zeros((window.shape[0], window.shape[1] + 2), np.int8)
    padded[:, 1:-1] = window
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)  # runs in row-major order: sorted by row, then column
    ends = np.nonzero(edges == -1)[1]  # exclusive
    runs = len(starts)
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

    parent = np.arange(runs)
    for a, b in zip(upper.tolist(), lower.tolist()):
        while parent[a] != a:
            a = parent[a]
        while parent[b] != b:
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
    while True:  # flatten every chain to its root
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        parent = grand
    _, run_labels = np.unique(parent, return_inverse=True)
    run_labels = run_labels.astype(np.int32) + 1
    count = int(run_labels.max())

    lengths = ends - starts
    pixel_runs = np.repeat(np.arange(runs), lengths)
    columns = np.repeat(starts, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    labels[rows[pixel_runs], columns] = run_labels[pixel_runs]

    areas = np.bincount(run_labels, weights=lengths, minlength=count + 1).astype(np.int64)
    boxes = np.zeros((count + 1, 4), np.int64)
    boxes[:, 0], boxes[:, 2] = width, height
    np.minimum.at(boxes[:, 0], run_labels, starts)
    np.maximum.at(boxes[:, 1], run_labels, ends)
    np.minimum.at(boxes[:, 2], run_labels, rows)
    np.maximum.at(boxes[:, 3], run_labels, rows + 1)
    return Components(labels, count, areas, boxes)


def _components(ink: np.ndarray, speck_fraction: float = SPECK_FRACTION):
    """Label the strokes of an ink map and erase specks of noise from it, in place.

    Strokes are the 8-connected components of pixels above ``INK_THRESHOLD``; a component whose
    area is under ``speck_fraction`` of the largest one is a speck. Returns ``(components, kept)``:
    the Components (specks unlabelled) and the sorted label numbers kept. Raises EmptyImageError
    when there is no ink.
    """
    found = label_components(ink > INK_THRESHOLD)
    if found.count == 0:
        raise EmptyImageError("The image has no ink: draw a digit, or send a picture of one.")
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
    digit = np.asarray(Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32)).resize(size, resample),
                       dtype=np.float32)
    digit = np.clip(digit, 0.0, None)
    digit /= max(float(digit.max()), 1e-6)  # a thin stroke shrunk to faint grey becomes full ink again

    total = float(digit.sum())
    cy = float(digit.sum(axis=1) @ np.arange(digit.shape[0])) / total
    cx = float(digit.sum(axis=0) @ np.arange(digit.shape[1])) / total
    top = int(np.clip(round(MNIST_CENTRE - cy), 0, IMAGE_SIZE - digit.shape[0]))
    left = int(np.clip(round(MNIST_CENTRE - cx), 0, IMAGE_SIZE - digit.shape[1]))
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return out


def normalize_digit(grey: np.ndarray) -> np.ndarray:
    """Turn a grey image of one digit into an MNIST-like digit, as LeCun et al. made MNIST.

    ``grey``: float (H, W) in [0, 1], either polarity (see ``ink_map``). Keeps the strokes (see
    ``_components``), crops to their bounding box and scales and centres it (``to_mnist_box``).
    Returns float32 (28, 28) in [0, 1], ink = 1. Raises EmptyImageError when there is no ink.
    """
    ink, photo = ink_map(grey)
    found, kept = _components(ink, PHOTO_SPECK_FRACTION if photo else SPECK_FRACTION)
    boxes = found.boxes[kept]
    return to_mnist_box(ink[boxes[:, 2].min(): boxes[:, 3].max(), boxes[:, 0].min(): boxes[:, 1].max()])


@dataclass
class Unit:
    """A piece of writing: a group of strokes that overlap horizontally, or a slice of a wide group."""

    x0: int  # bounding box in the image, pixels; x1 and y1 exclusive
    x1: int
    y0: int
    y1: int
    ink: np.ndarray  # (y1 - y0, x1 - x0) float32 in [0, 1]: this unit's own ink only


@dataclass
class Segmentation:
    """The units of an image, left to right, and the spans of them that may be one digit.

    Which spans are digits is for the network to say (``inference.predict_image`` keeps the
    reading with the highest total log-probability): a broken 0 is two units read best as one
    digit, two touching digits one wide group read best as two slices.
    """

    units: list[Unit]
    line_height: int

    def spans(self) -> list[tuple[int, int]]:
        """Return the (first, last) unit spans that could be one digit: every unit, and runs of up to
        MAX_SPAN units no wider than MAX_DIGIT_WIDTH line heights with no gap over MAX_JOIN_GAP."""
        spans = []
        for first in range(len(self.units)):
            right = self.units[first].x1
            for last in range(first, min(first + MAX_SPAN, len(self.units))):
                unit = self.units[last]
                if last > first and (unit.x0 - right > MAX_JOIN_GAP * self.line_height
                                     or max(right, unit.x1) - self.units[first].x0 > MAX_DIGIT_WIDTH * self.line_height):
                    break
                spans.append((first, last))
                right = max(right, unit.x1)
        return spans

    def render(self, first: int, last: int) -> Digit:
        """Normalise the units ``first..last`` together as one MNIST digit, with its bounding box."""
        units = self.units[first: last + 1]
        x0, x1 = min(u.x0 for u in units), max(u.x1 for u in units)
        y0, y1 = min(u.y0 for u in units), max(u.y1 for u in units)
        canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
        for u in units:
            region = canvas[u.y0 - y0: u.y1 - y0, u.x0 - x0: u.x1 - x0]
            np.maximum(region, u.ink, out=region)
        strokes = canvas > INK_THRESHOLD
        rows = np.flatnonzero(strokes.any(axis=1))
        cols = np.flatnonzero(strokes.any(axis=0))
        crop = canvas[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
        return Digit(to_mnist_box(crop), (x0 + int(cols[0]), y0 + int(rows[0]), crop.shape[1], crop.shape[0]))


def segment(grey: np.ndarray) -> Segmentation:
    """Cut an image of one digit or of a number written left to right into units.

    ``grey``: float (H, W) in [0, 1], either polarity. The strokes (``_components``) that overlap
    horizontally by ``MERGE_OVERLAP`` of the narrower one are one unit (the two strokes of a 4);
    a unit wider than ``SPLIT_ASPECT`` times its height (at least 0.8 line heights) may be touching
    digits, so it is sliced at its columns of least ink into round(width / (DIGIT_ASPECT * height))
    units, which the network may read back together. At most ``MAX_UNITS`` units, left to right.
    Raises EmptyImageError when there is no ink.
    """
    ink, photo = ink_map(grey)
    found, kept = _components(ink, PHOTO_SPECK_FRACTION if photo else SPECK_FRACTION)
    labels = found.labels
    boxes = {int(k): tuple(int(v) for v in found.boxes[k]) for k in kept}  # label -> (x0, x1, y0, y1)
    kept = list(boxes)
    line_height = max(y1 - y0 for _, _, y0, y1 in boxes.values())

    # Union-find over components that overlap horizontally.
    parent = {k: k for k in kept}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    order = sorted(kept, key=lambda k: boxes[k][0])
    for i, a in enumerate(order):
        ax0, ax1 = boxes[a][:2]
        for b in order[i + 1:]:
            bx0, bx1 = boxes[b][:2]
            if bx0 >= ax1:
                break
            overlap = min(ax1, bx1) - bx0
            if overlap >= MERGE_OVERLAP * max(min(ax1 - ax0, bx1 - bx0), 0.3 * line_height):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for k in kept:
        groups.setdefault(root(k), []).append(k)

    units = []
    for members in groups.values():
        x0 = min(boxes[k][0] for k in members)
        x1 = max(boxes[k][1] for k in members)
        y0 = min(boxes[k][2] for k in members)
        y1 = max(boxes[k][3] for k in members)
        crop = ink[y0:y1, x0:x1]
        if len(groups) > 1:  # another group's strokes may reach into this box: leave them out
            window = labels[y0:y1, x0:x1]
            crop = np.where((window > 0) & ~np.isin(window, members), 0.0, crop).astype(np.float32)
        for c0, c1 in _split_columns(crop, line_height):
            units.append(Unit(x0 + c0, x0 + c1, y0, y1, crop[:, c0:c1]))
    units.sort(key=lambda u: u.x0 + u.x1)
    return Segmentation(units[:MAX_UNITS], line_height)


def _split_columns(crop: np.ndarray, line_height: int) -> list[tuple[int, int]]:
    """Return the column ranges of the slices of one group, cutting a wide group at its thinnest columns."""
    height, width = crop.shape
    height = max(height, 0.8 * line_height)
    if width <= SPLIT_ASPECT * height:
        return [(0, width)]
    pieces = max(2, round(width / (DIGIT_ASPECT * height)))
    profile = crop.sum(axis=0)
    cuts = [0]
    for i in range(1, pieces):
        centre = i * width / pieces
        lo = max(cuts[-1] + 1, int(centre - 0.3 * width / pieces))
        hi = min(width - 1, int(centre + 0.3 * width / pieces))
        cuts.append(lo + int(np.argmin(profile[lo:hi + 1])) if hi >= lo else int(centre))
    cuts.append(width)
    return list(zip(cuts[:-1], cuts[1:]))


def preprocess(data: bytes) -> np.ndarray:
    """Decode image bytes and normalise the digit: float32 (28, 28) in [0, 1], ink = 1.

    Raises the PreprocessingError subclasses of ``decode_image`` and ``normalize_digit``.
    """
    return normalize_digit(decode_image(data))


def to_png_data_url(image: np.ndarray) -> str:
    """Encode a float image in [0, 1] (e.g. the (28, 28) network input) as a PNG data URL."""
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

"""Measure how the request path generalises beyond MNIST's test set.

Every measurement sends images through ``read.predict_image``, the path a /predict request
takes (decode, polarity, segmentation, normalisation, network):
- ``evaluate_usps``: USPS postal digits (LeCun et al., 1990), never trained on;
- ``evaluate_numbers``: numbers of 2 to 6 MNIST test digits composed with random gaps, sizes and
  small overlaps;
- ``evaluate_photos``: MNIST test digits "photographed" on paper: a lighting gradient, a shadow,
  paper texture, sensor noise, a slight rotation and JPEG compression.

    python model.py evaluate --usps --numbers --photos
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image

from recognizer import backends, decode, read
from datasets import load_mnist, load_usps


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 (H, W) image as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Report:
    """Accuracy through the request path, overall and per class."""

    name: str
    accuracy: float
    per_class: dict  # class -> accuracy
    count: int
    refused: int  # images the pipeline refused (blank)

    def format(self) -> str:
        """Return the figures as two lines of text."""
        per_class = "  ".join(f"{k}: {a:.1%}" for k, a in sorted(self.per_class.items()))
        return f"{self.name}: {self.accuracy:.2%} of {self.count} ({self.refused} refused)\n  {per_class}"


def _score(name: str, samples, backend) -> Report:
    """Score (png_bytes, label, class) samples, the label compared with the reading's number."""
    correct, seen, refused = Counter(), Counter(), 0
    for data, label, key in samples:
        seen[key] += 1
        try:
            reading = read.predict_image(data, backend)
        except decode.EmptyImageError:
            refused += 1
            continue
        correct[key] += reading.number == label
    count = sum(seen.values())
    return Report(name, sum(correct.values()) / count, {k: correct[k] / seen[k] for k in sorted(seen)}, count, refused)


def evaluate_usps(backend=None, data_dir=None, split: str = "test", limit: int | None = None) -> Report:
    """Score USPS digits sent through the request path, per digit.

    Each 16x16 USPS digit is encoded as a PNG of dark ink on white paper (as scanned), so it
    goes through decoding, polarity detection, cropping, scaling and centring like any request.
    """
    backend = backend or backends.load_backend()
    images, labels = load_usps(data_dir, split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    samples = ((png_bytes(255 - image), str(label), int(label)) for image, label in zip(images, labels))
    return _score("USPS test accuracy through the request path", samples, backend)


def compose_number(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Write MNIST digits side by side as one number: uint8 (H, W), dark ink on white.

    Each digit (uint8 (28, 28), ink = 255) is cropped to its ink, scaled by 0.8 to 1.3, shifted
    up or down by up to 4 px and placed after the previous one with a gap of -2 (a small overlap)
    to 10 px.
    """
    pieces = []
    for digit in digits:
        rows = np.flatnonzero(digit.max(axis=1) > 30)
        cols = np.flatnonzero(digit.max(axis=0) > 30)
        crop = Image.fromarray(digit[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1])
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


def number_samples(count: int = 500, seed: int = 0, lengths=(2, 6)):
    """Yield ``count`` (png_bytes, label, length) composed numbers of random lengths from MNIST test digits."""
    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    for _ in range(count):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        picks = rng.integers(0, len(x_test), length)
        image = compose_number([x_test[i] for i in picks], rng)
        yield png_bytes(image), "".join(str(y_test[i]) for i in picks), length


def evaluate_numbers(backend=None, count: int = 500, seed: int = 0) -> Report:
    """Score whole numbers of 2 to 6 composed MNIST test digits: right only if every digit is."""
    backend = backend or backends.load_backend()
    return _score("Whole-number accuracy (2-6 MNIST test digits)", number_samples(count, seed), backend)


def synthetic_photo(ink: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> bytes:
    """Photograph a digit or a number written on paper: JPEG bytes of an RGB image ``size`` (w, h).

    ``ink``: uint8 (H, W), 255 = ink (an MNIST digit or a composed number). The writing is scaled
    to 30-55% of the photo's height, rotated by up to 8 degrees and placed off-centre in pen ink
    (70-85% dark) on paper with texture; then a lighting gradient (down to 55%), a soft shadow
    (down to 65%) over part of the sheet, sensor noise and JPEG compression (quality 55-85).
    """
    from scipy import ndimage

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

    texture = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 1.5)
    paper = 0.92 + 0.03 * texture / max(float(np.abs(texture).max()), 1e-6)
    darkness = rng.uniform(0.70, 0.85)
    image = paper * (1.0 - darkness * writing)

    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image *= 1.0 - rng.uniform(0.25, 0.45) * ramp  # lighting gradient
    edge = np.cos(angle + rng.uniform(1, 2)) * xx + np.sin(angle + rng.uniform(1, 2)) * yy
    shadow = ndimage.gaussian_filter((edge > np.median(edge)).astype(np.float32), 12)
    image *= 1.0 - rng.uniform(0.2, 0.35) * shadow  # a soft shadow over part of the sheet
    image += rng.normal(0, 0.02, image.shape)  # sensor noise

    tint = np.array([1.0, 0.97, 0.9])  # warm indoor light
    rgb = np.clip(image[:, :, None] * tint * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(rng.integers(55, 86)))
    return buffer.getvalue()


def photo_samples(count: int = 300, seed: int = 0):
    """Yield ``count`` (jpeg_bytes, label, label) synthetic photos of MNIST test digits."""
    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(x_test), count, replace=False):
        yield synthetic_photo(x_test[i], rng), str(y_test[i]), int(y_test[i])


def evaluate_photos(backend=None, count: int = 300, seed: int = 0) -> Report:
    """Score synthetic photos of MNIST test digits on paper through the request path."""
    backend = backend or backends.load_backend()
    return _score("Synthetic photos of MNIST test digits", photo_samples(count, seed), backend)


def non_digit_samples(count: int = 400, seed: int = 0):
    """Yield ``count`` (png_bytes, kind) drawings that are not digits, in four kinds, in turn.

    - "half digit": an MNIST test digit with its lower or right half erased;
    - "scribble": one to three random pen strokes;
    - "letter": a capital letter that resembles no digit (A E F H K M N R W X), from DejaVu Sans;
    - "frame": an empty rectangle, as a drawn box or a photographed frame.
    """
    from PIL import ImageDraw

    _, (x_test, _) = load_mnist()
    rng = np.random.default_rng(seed)
    font = _letter_font()
    for i in range(count):
        kind = ("half digit", "scribble", "letter", "frame")[i % 4]
        canvas = Image.new("L", (280, 280), 255)
        pen = ImageDraw.Draw(canvas)
        if kind == "half digit":
            digit = x_test[int(rng.integers(len(x_test)))].copy()
            if rng.random() < 0.5:
                digit[14:] = 0
            else:
                digit[:, 14:] = 0
            canvas = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
        elif kind == "scribble":
            for _ in range(int(rng.integers(1, 4))):
                points = np.cumsum(rng.normal(0, 45, (int(rng.integers(3, 9)), 2)), axis=0) + rng.uniform(60, 220, 2)
                pen.line([tuple(p) for p in points.clip(10, 270)], fill=0, width=18, joint="curve")
        elif kind == "letter":
            letter = "AEFHKMNRWX"[int(rng.integers(10))]
            pen.text((140, 140), letter, fill=0, font=font, anchor="mm")
        else:
            x0, y0 = rng.uniform(30, 90, 2)
            x1, y1 = rng.uniform(190, 250, 2)
            pen.rectangle([x0, y0, x1, y1], outline=0, width=int(rng.integers(8, 20)))
        yield png_bytes(np.asarray(canvas)), kind


def _letter_font():
    """DejaVu Sans Bold at 200 px (shipped with Matplotlib, a development requirement)."""
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans-Bold.ttf"), 200)


@dataclass
class LowConfidenceReport:
    """How often the low-confidence flag fires on non-digits and on real digits, per threshold."""

    thresholds: list
    on_non_digits: dict  # threshold -> {kind: share flagged}
    on_digits: dict  # threshold -> share of real MNIST test digits (drawn on a canvas) flagged
    counts: tuple  # (non-digits, digits)

    def format(self) -> str:
        """Return a text table."""
        kinds = sorted(next(iter(self.on_non_digits.values())))
        lines = ["threshold | " + " | ".join(kinds) + " | all non-digits | real digits (false alarms)"]
        for t in self.thresholds:
            flagged = self.on_non_digits[t]
            overall = float(np.mean(list(flagged.values())))
            lines.append(f"{t:.2f} | " + " | ".join(f"{flagged[k]:.1%}" for k in kinds)
                         + f" | {overall:.1%} | {self.on_digits[t]:.2%}")
        return "\n".join(lines)


def evaluate_low_confidence(backend=None, count: int = 400, digits: int = 2000,
                            thresholds=(0.5, 0.6, 0.7, 0.8, 0.9)) -> LowConfidenceReport:
    """Measure the flag at several confidence thresholds on ``count`` non-digits and ``digits``
    MNIST test digits drawn as canvases, all through the request path."""
    backend = backend or backends.load_backend()
    non_digits: dict[str, list[float]] = {}
    for data, kind in non_digit_samples(count):
        try:
            confidence = min(d.confidence for d in read.predict_image(data, backend).digits)
        except decode.EmptyImageError:
            continue
        non_digits.setdefault(kind, []).append(confidence)
    _, (x_test, _) = load_mnist()
    real = []
    for image in x_test[-digits:]:
        canvas = np.asarray(Image.fromarray(255 - image).resize((280, 280), Image.Resampling.BILINEAR))
        real.append(read.predict_image(png_bytes(canvas), backend).strongest.confidence)
    real = np.array(real)
    return LowConfidenceReport(
        list(thresholds),
        {t: {k: float(np.mean(np.array(v) < t)) for k, v in non_digits.items()} for t in thresholds},
        {t: float(np.mean(real < t)) for t in thresholds},
        (sum(len(v) for v in non_digits.values()), len(real)),
    )

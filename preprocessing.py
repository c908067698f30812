"""Turn an uploaded image into what the network expects: a 28x28 MNIST-like digit.

The one pipeline used by the server, the evaluation (USPS) and the tests:

    bytes --decode_image--> (H, W) grey, 1 = white --normalize_digit--> (28, 28) ink, 1 = ink

``normalize_digit`` follows how MNIST itself was made (LeCun, Cortes & Burges, "The MNIST
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

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from model import DIGIT_BOX, IMAGE_SIZE

# Formats a browser or a phone produces (Pillow's JPEG plugin also opens phones' MPO files).
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
MAX_PIXELS = 4096 * 4096  # refused from the header, before any pixel is decoded
INK_THRESHOLD = 0.25  # ink level (0..1) above which a pixel counts as part of a stroke
SPECK_FRACTION = 0.03  # components smaller than this share of the largest one are noise
MNIST_CENTRE = 14.0  # centre of mass of MNIST digits, in pixel-index coordinates (measured: 13.99, 14.00)
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
            image = ImageOps.exif_transpose(image)
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


def normalize_digit(grey: np.ndarray) -> np.ndarray:
    """Turn a grey image of one digit into an MNIST-like digit, as LeCun et al. made MNIST.

    ``grey``: float (H, W) in [0, 1]. Either polarity is accepted: the background is taken as the
    median level (ink covers a minority of the pixels), so dark ink on light paper and light ink on
    a dark canvas both give ink = 1. Steps: subtract the background; keep the connected
    components of ink above ``INK_THRESHOLD`` (8-connected) whose area is at least
    ``SPECK_FRACTION`` of the largest one; crop to their bounding box; scale the longer side to
    20 px (``DIGIT_BOX``) keeping the aspect ratio, with area-averaging (anti-aliasing) when
    shrinking; pad to 28x28 and translate by whole pixels so the centre of mass lands where MNIST's
    does (``MNIST_CENTRE``).
    Returns float32 (28, 28) in [0, 1], ink = 1. Raises EmptyImageError when there is no ink.
    """
    grey = np.asarray(grey, dtype=np.float32)
    # The median of a regular sample of about 4,000 pixels estimates the background as well as all of them.
    step = max(1, int(np.sqrt(grey.size / 4096)))
    background = float(np.median(grey[::step, ::step]))
    ink = grey if background < 0.5 else 1.0 - grey
    paper = min(background, 1.0 - background)  # the background's own ink level, at most 0.5
    ink = np.clip((ink - paper) * (1.0 / (1.0 - paper)), 0.0, 1.0)

    strokes = ink > INK_THRESHOLD
    labels, count = ndimage.label(strokes, structure=np.ones((3, 3)))
    if count == 0:
        raise EmptyImageError("The image has no ink: draw a digit, or send a picture of one.")
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    kept = areas >= SPECK_FRACTION * areas.max()  # (count,) bool, one per component
    if not kept.all():
        is_kept = np.concatenate([[False], kept])  # lookup table: label -> kept
        strokes = is_kept[labels]
        ink[~strokes & (labels > 0)] = 0.0  # erase the specks
    rows = np.flatnonzero(strokes.any(axis=1))
    cols = np.flatnonzero(strokes.any(axis=0))
    crop = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]  # the bounding box of the kept components

    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    digit = np.asarray(Image.fromarray(crop).resize(size, resample), dtype=np.float32)
    digit = np.clip(digit, 0.0, None)
    digit /= max(float(digit.max()), 1e-6)  # a thin stroke shrunk to faint grey becomes full ink again

    cy, cx = ndimage.center_of_mass(digit)
    top = int(np.clip(round(MNIST_CENTRE - cy), 0, IMAGE_SIZE - digit.shape[0]))
    left = int(np.clip(round(MNIST_CENTRE - cx), 0, IMAGE_SIZE - digit.shape[1]))
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return out


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

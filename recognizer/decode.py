"""Decode what a client sends into a grey image: the first layer of the request path.

    bytes (PNG, JPEG, WebP, BMP, GIF; or a data URL / base64 text) -> float32 (H, W) grey, 1 = white

Every failure the client can cause raises a subclass of ``PreprocessingError`` whose message is a
sentence a person can act on; nothing else escapes from this package's request path.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

# Formats a browser or a phone produces (Pillow's JPEG plugin also opens phones' MPO files).
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
MAX_PIXELS = 4096 * 4096  # refused from the header, before any pixel is decoded
JPEG_DRAFT_SIDE = 1024  # large JPEGs are decoded at a reduced DCT scale, no smaller than this


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
        with warnings.catch_warnings():
            # Pillow only warns between 89 M and 179 M pixels; anything over MAX_PIXELS is refused below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        with image:
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

"""Decode what a client sends into a grey image: the first layer of the request path.

    bytes (PNG, JPEG, WebP, BMP, GIF; or a data URL / base64 text) -> float32 (H, W) grey, 1 = white

Every failure the client can cause raises a subclass of ``PreprocessingError`` whose message is a
sentence a person can act on; nothing else escapes from this package's request path.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from recognizer import headers

# Formats a browser or a phone produces (Pillow's JPEG plugin also opens phones' MPO files).
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
# Pillow names a phone's JPEG with a second picture inside (an APP2 "MPF" segment) "MPO": decoded, bounded and
# reduced as a JPEG (its first picture), so that the scans are counted and a large photo is decoded reduced.
JPEG_FORMATS = ("JPEG", "MPO")
# EXIF is parsed entry by entry in Python (ImageOps.exif_transpose): 65,000 entries cost seconds. A JPEG's EXIF
# fits in one 64 KB APP1 segment, and cameras write a few KB; a larger block (in a PNG's eXIf chunk or a WebP)
# is not parsed, and the image is read as stored.
MAX_EXIF_BYTES = 65_535
# The work of decoding is bounded by the header, before any pixel is decoded: at most MAX_PIXELS
# pixels (Pillow holds at most 4 bytes each: 64 MB for 4096x4096 RGBA) and at most MAX_JPEG_SCANS
# scans of a progressive JPEG (each scan is a pass over the whole image; a few hundred bytes each).
MAX_PIXELS = 4096 * 4096
MAX_JPEG_SCANS = 64  # libjpeg's and mozjpeg's progressive modes write about 10
# Formats other than JPEG are decoded at full size, then reduced: their decoding may hold at most
# MAX_DECODE_BYTES, estimated from the header as pixels x the peak bytes a pixel of decoding and
# reducing holds (_decode_bytes_per_pixel, measured with ru_maxrss: 2 for grey, 8 for colour, 16 for
# WebP, whose decoder composites frames). 4096x4096 grey PNG: 32 MiB; 2896x2896 RGBA: 64 MiB.
MAX_DECODE_BYTES = 64 * 2**20
# Pillow parses a JPEG's markers, a PNG's chunks and a GIF's extension blocks in Python, one at a time,
# and a JPEG's fill bytes one byte at a time: 2 MB of any of them held a worker 0.3-1.2 s (issue 24). They
# are counted from the bytes (recognizer.headers) before Pillow opens the file, and refused above:
MAX_JPEG_MARKERS = 1024  # marker segments before the first scan; a phone photo has about 15
MAX_JPEG_PADDING = 1024  # fill (FF) and junk bytes between those markers; encoders write none
MAX_PNG_CHUNKS = 4096  # libpng writes IDAT in 8 KB chunks: a 2 MB PNG has about 260
# Compressed metadata chunks (iCCP, zTXt, iTXt): a PNG has at most one ICC profile (PNG spec, 11.3.3.3) and editors
# write a few text chunks; 1,900 iCCP chunks of 1 KB, each inflating to 1 MiB, held a worker for 4 s.
MAX_PNG_INFLATED_CHUNKS = 16
MAX_GIF_BLOCKS = 4096  # extension sub-blocks (comments, XMP) before the first image
# RLE BMPs (compression 1 and 2) are decoded by Pillow in Python: 3-4 s for a 17 KB 4096x4096 RLE8. Refused.
RLE_BMP_COMPRESSIONS = (1, 2)
# What the rest of the request path works on: an image is reduced (box-averaged) to at most
# WORK_SIDE pixels on its longer side as it is decoded: JPEGs by libjpeg's DCT scaling (draft),
# other formats by Image.reduce straight after decoding. MNIST digits are 28 px; a number of 24
# digits still gets 64 px a digit. This bounds the memory of every later stage (README, "Limits").
WORK_SIDE = 1024


class PreprocessingError(ValueError):
    """An image that cannot be read as a digit; ``str(error)`` is the message for the user."""


class ImageDecodeError(PreprocessingError):
    """The bytes are not an image in a supported format (or are corrupt)."""


class ImageTooLargeError(PreprocessingError):
    """The image's dimensions are over ``MAX_PIXELS``."""


NO_INK = "The image has no ink."  # EmptyImageError's finding for a blank image


class EmptyImageError(PreprocessingError):
    """The image decodes but holds no ink (a blank canvas), or no digit (a photo of an empty cell).

    ``finding``: what was found, one sentence ("The image has no ink."); ``advice``: what to send instead, or None.
    ``str()`` joins them ("The image has no ink: draw a digit, or send a picture of one.")."""

    def __init__(self, finding: str, advice: str | None = None):
        self.finding, self.advice = finding, advice
        super().__init__(f"{finding.removesuffix('.')}: {advice}" if advice else finding)


class TooMuchWorkError(PreprocessingError):
    """The image would cost more work than any drawing needs: too many scans, strokes or marks."""


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
        text = text[match.end() :]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError(
            "The image is not valid base64; send a data URL such as the canvas's toDataURL()."
        ) from exc


def decode_image(data: bytes) -> np.ndarray:
    """Decode PNG, JPEG, WebP, BMP or GIF bytes to a grey image, 1.0 = white paper (``decode_image_sized``)."""
    return decode_image_sized(data)[0]


def decode_image_sized(data: bytes) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode PNG, JPEG, WebP, BMP or GIF bytes to a grey image, 1.0 = white paper, and the image's size as sent.

    The size is (width, height) in the sender's pixels, upright (after the EXIF orientation): boxes found in
    the grey image are scaled by it to answer in the pixels of the image as sent.

    The grey image is float32 (H, W) in [0, 1] with max(H, W) <= ``WORK_SIDE``: larger images are reduced by
    box-averaging as they are decoded. Applies the EXIF orientation, takes the first frame of an
    animation and composites any transparency onto white, so a transparent canvas reads as a
    white sheet (not a black square). Checks the header (``check_header``) and the dimensions, and counts a
    JPEG's scans, before decoding. Raises ImageDecodeError for empty, unknown or corrupt data and RLE BMPs,
    ImageTooLargeError above ``MAX_PIXELS`` pixels or a progressive JPEG over ``MAX_DECODE_BYTES``, and
    TooMuchWorkError for a JPEG of more than ``MAX_JPEG_SCANS`` scans or for too many markers, chunks or blocks.
    """
    if not data:
        raise ImageDecodeError("The image is empty; draw a digit or choose an image file.")
    check_header(data)
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
            jpeg = image.format in JPEG_FORMATS
            if not jpeg:
                cost = width * height * _decode_bytes_per_pixel(image)
                if cost > MAX_DECODE_BYTES:
                    raise ImageTooLargeError(
                        f"The {image.format} image is {width}x{height} pixels of {image.mode}, more than can be "
                        f"decoded here (at most {MAX_DECODE_BYTES // 2**20} MB: 4096x4096 in 8-bit grey, "
                        "2896x2896 in colour); send a JPEG or a smaller image."
                    )
            image.seek(0)  # the first frame of an animation; the others are never decoded
            if jpeg:
                # Each SOS marker (FF DA) starts a scan; entropy-coded data escapes FF as FF 00.
                scans = data.count(b"\xff\xda")
                if scans > MAX_JPEG_SCANS:
                    raise TooMuchWorkError(
                        f"The JPEG has {scans:,} scans; at most {MAX_JPEG_SCANS} are decoded. "
                        "Save it as a baseline (non-progressive) JPEG or a PNG."
                    )
                if max(width, height) > WORK_SIDE:
                    # A phone photo: libjpeg decodes at 1/2..1/8 scale (straight to grey where it can).
                    scale = max(width, height) / (WORK_SIDE / 2)
                    image.draft(
                        "L" if image.mode in ("RGB", "L") else None,
                        (math.ceil(width / scale), math.ceil(height / scale)),
                    )
            image.load()
            sixteen_bit = image.mode.startswith("I;16")
            image = _reduce(image)
            before = image.size
            if _exif_bytes(image.info) <= MAX_EXIF_BYTES:
                ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
            sent = (height, width) if image.size != before else (width, height)  # turned a quarter
            return _to_grey(image, sixteen_bit), sent
    except PreprocessingError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image has too many pixels; send one of at most {MAX_PIXELS:,}.") from exc
    except Exception as exc:  # Pillow signals corrupt data with many exception types.
        raise ImageDecodeError("The file could not be read as an image; send a PNG, JPEG, WebP, BMP or GIF.") from exc


def check_header(data: bytes) -> None:
    """Refuse, from the header bytes alone, an image whose decoding would cost more than its size suggests.

    Reads at most a few thousand markers, chunks or blocks (``recognizer.headers``), never pixels. Raises
    ImageDecodeError (400) for an RLE-compressed BMP, TooMuchWorkError (422) for a JPEG of more than
    ``MAX_JPEG_MARKERS`` markers or ``MAX_JPEG_PADDING`` fill bytes before its first scan, a PNG of more
    than ``MAX_PNG_CHUNKS`` chunks or ``MAX_PNG_INFLATED_CHUNKS`` compressed metadata chunks (iCCP, zTXt, iTXt) or
    a GIF of more than ``MAX_GIF_BLOCKS`` extension blocks, and
    ImageTooLargeError (413) for a progressive or multi-scan JPEG whose coefficient buffer (width x height x components
    x 2 bytes, less for subsampled chroma) is over ``MAX_DECODE_BYTES``. Other data passes untouched.
    """
    if data.startswith(headers.JPEG_SIGNATURE):
        header = headers.jpeg_header(data, MAX_JPEG_MARKERS, MAX_JPEG_PADDING)
        if header.markers > MAX_JPEG_MARKERS or header.padding > MAX_JPEG_PADDING:
            raise TooMuchWorkError(
                f"The JPEG has more than {MAX_JPEG_MARKERS:,} markers or {MAX_JPEG_PADDING:,} fill bytes before "
                "its image; no camera or editor writes that many. Save it again as a JPEG or a PNG."
            )
        buffer = header.coefficient_bytes()
        if header.buffered and buffer > MAX_DECODE_BYTES:
            raise ImageTooLargeError(
                f"The {'progressive' if header.progressive else 'multi-scan'} JPEG would need "
                f"{buffer / 2**20:.0f} MB to decode (at most {MAX_DECODE_BYTES // 2**20} MB); "
                "save it as a baseline (non-progressive) JPEG or send a smaller image."
            )
    elif data.startswith(headers.PNG_SIGNATURE):
        chunks, inflated = headers.png_chunk_count(data, MAX_PNG_CHUNKS)
        if chunks > MAX_PNG_CHUNKS:
            raise TooMuchWorkError(
                f"The PNG has more than {MAX_PNG_CHUNKS:,} chunks; no encoder writes that many. Save it again as a PNG."
            )
        if inflated > MAX_PNG_INFLATED_CHUNKS:
            raise TooMuchWorkError(
                f"The PNG has {inflated:,} compressed metadata chunks (ICC profiles, text), at most "
                f"{MAX_PNG_INFLATED_CHUNKS} are read; save it again as a PNG without them."
            )
    elif data.startswith(b"GIF8"):
        if headers.gif_block_count(data, MAX_GIF_BLOCKS) > MAX_GIF_BLOCKS:
            raise TooMuchWorkError(
                f"The GIF has more than {MAX_GIF_BLOCKS:,} extension blocks before its image; save it as a PNG."
            )
    elif data.startswith(b"BM") and headers.bmp_compression(data) in RLE_BMP_COMPRESSIONS:
        raise ImageDecodeError(
            "RLE-compressed BMPs are not decoded here (they cost seconds to decode); "
            "save it as an uncompressed BMP or a PNG."
        )


def _exif_bytes(info: dict) -> int:
    """The size in bytes of the EXIF that Pillow would parse for an image: its "exif" block, or a PNG text chunk's
    hex-encoded "Raw profile type exif" (Pillow's fallback)."""
    raw = info.get("Raw profile type exif")
    return len(info.get("exif") or b"") + (len(raw) // 2 if isinstance(raw, str) else 0)


def _decode_bytes_per_pixel(image: Image.Image) -> int:
    """Return the peak bytes a pixel of ``image`` holds while it is decoded and reduced (not JPEG).

    Pillow holds 1 byte a pixel for 1, L and P, 2 for I;16 and 4 for the rest; the decoder's buffer
    and the conversion before ``Image.reduce`` (I;16 to I, P with transparency to LA) come on top.
    """
    if image.format == "WEBP":
        return 16
    if image.mode in ("1", "L"):
        return 2
    if image.mode == "P":  # with transparency, converted through RGBA to LA before reducing: 1 + 4 + 4
        return 9 if "transparency" in image.info else 2
    if image.mode.startswith("I;16"):
        return 6
    return 8


def _reduce(image: Image.Image) -> Image.Image:
    """Box-average a decoded image down to at most ``WORK_SIDE`` pixels on its longer side (transparency kept).

    Keeps the EXIF data (for ``exif_transpose``). Bilevel, palette and 16-bit images are converted to
    a mode ``Image.reduce`` takes first (at most 4 bytes a pixel: 64 MB at ``MAX_PIXELS``).
    """
    factor = math.ceil(max(image.size) / WORK_SIDE)
    if factor <= 1:
        return image
    info = image.info
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode == "P":
        image = image.convert("LA" if image.has_transparency_data else "L")  # grey is all that is kept
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    reduced = image.reduce(factor)
    reduced.info = info
    return reduced


def _to_grey(image: Image.Image, sixteen_bit: bool = False) -> np.ndarray:
    """Return float32 (H, W) grey in [0, 1] of a loaded Pillow image, transparency onto white.

    ``sixteen_bit``: the image was decoded as 16-bit (and may since have been reduced to mode "I").
    """
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        # 16-bit and 32-bit images: scale by their own range, not by 255 (Pillow's "L" clips).
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if sixteen_bit or image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        if image.mode == "F":
            top = max(1.0, float(pixels.max()))
        return np.clip(pixels / top, 0.0, 1.0).astype(np.float32)
    if image.has_transparency_data:
        # Composite onto white (colour * alpha + white * (1 - alpha)) in Pillow, in 8 bits: a third of the time of
        # the same in float arrays, and the same grey where the ink is black (a drawing on the page).
        # A palette's or tRNS transparency applied, LA's grey to RGB; an RGBA image (the page's) is used as it is.
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        return np.asarray(
            Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L"), np.float32
        ) * (1.0 / 255.0)
    return np.asarray(image.convert("L"), dtype=np.float32) * (1.0 / 255.0)

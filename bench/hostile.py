"""The cheap inputs that once cost a lot (issue 10, table A; issue 24, finding 1 and 2), built in memory: one
definition used by ``bench/limits.py`` (answers, times and memory against gunicorn) and ``tests/test_limits.py``.

Each builder returns the request body; ``CASES`` pairs it with its Content-Type. Imports only the
standard library, NumPy and Pillow.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from synth.canvas import PAGE_DIGIT_SIDE


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, **options)
    return buffer.getvalue()


def dot_grid(side: int = 512, step: int = 2) -> bytes:
    """A bilevel PNG, white with a black dot every ``step`` pixels: (side / step)^2 strokes in a few hundred bytes."""
    pixels = np.ones((side, side), bool)
    pixels[::step, ::step] = False
    return _png(Image.fromarray(pixels))


def alternating_line(width: int = 16_777_216) -> bytes:
    """A bilevel PNG of ``width`` x 1 with alternating black and white pixels (about 2 KB)."""
    pixels = np.zeros(width, bool)
    pixels[::2] = True
    return _png(Image.frombytes("1", (width, 1), np.packbits(pixels).tobytes()))


def sparse_noise(side: int = 4096, ink: float = 0.05, seed: int = 0) -> bytes:
    """A bilevel PNG of ``side`` x ``side`` with ``ink`` of its pixels black at random (750 KB at 4096)."""
    pixels = np.random.default_rng(seed).random((side, side), np.float32) >= ink
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def rgba16_png(side: int = 4096) -> bytes:
    """A 16-bit RGBA PNG of ``side`` x ``side`` (64 bits a pixel): white with a black bar, about 200 KB.

    Written chunk by chunk (Pillow cannot write 16-bit colour), one compressed row at a time.
    """
    white = b"\0" + b"\xff" * (8 * side)
    bar = bytearray(white)
    bar[1 + 8 * (side // 3) : 1 + 8 * (2 * side // 3)] = b"\0\0\0\0\0\0\xff\xff" * (2 * side // 3 - side // 3)
    compressor = zlib.compressobj(9)
    idat = [
        compressor.compress(bytes(bar) if side // 2 - side // 40 <= y < side // 2 + side // 40 else white)
        for y in range(side)
    ]
    idat.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(idat))
        + _png_chunk(b"IEND", b"")
    )


def _seven(side: int) -> Image.Image:
    """A black 7 drawn with two strokes on a white ``side`` x ``side`` sheet, mode L."""
    image = Image.new("L", (side, side), 255)
    pen = ImageDraw.Draw(image)
    pen.line(
        [(side * 0.3, side * 0.2), (side * 0.7, side * 0.2), (side * 0.45, side * 0.8)],
        fill=0,
        width=max(2, side // 14),
        joint="curve",
    )
    return image


def seven_png(side: int = PAGE_DIGIT_SIDE) -> bytes:
    """A 7 as the page posts it (``PAGE_DIGIT_SIDE`` px): a probe that must always be read."""
    return _png(_seven(side))


def cmyk_jpeg(side: int = 4096) -> bytes:
    """A CMYK JPEG of ``side`` x ``side``: a black 7 on white paper (libjpeg cannot decode CMYK to grey)."""
    buffer = io.BytesIO()
    _seven(side).convert("CMYK").save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def photo_like(side: int = 4096, fmt: str = "PNG", mode: str = "RGBA", **options) -> bytes:
    """The costliest image that is accepted: ``side`` x ``side``, a 7 on paper with a lighting
    gradient (so the photo path runs, at ``decode.WORK_SIDE``), smooth enough to fit in 2 MB.
    ``options``: more of Pillow's save options (a palette's ``transparency``)."""
    ramp = np.linspace(150, 235, side, dtype=np.float32)
    paper = (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)
    seven = np.asarray(_seven(side), np.float32) / 255.0
    grey = Image.fromarray((paper * seven).astype(np.uint8))
    buffer = io.BytesIO()
    options |= {"quality": 80} if fmt != "PNG" else {"compress_level": 9}
    grey.convert(mode).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def many_scan_jpeg(scans: int = 25_000, side: int = 2048) -> bytes:
    """A progressive JPEG whose last scan is repeated until it holds ``scans`` scans (about 0.9 MB).

    libjpeg accepts the repeated refinement scans (with a warning) and makes a pass over every
    coefficient for each: seconds of CPU for a small file.
    """
    buffer = io.BytesIO()
    Image.new("L", (side, side), 255).save(buffer, format="JPEG", progressive=True, quality=75)
    data = buffer.getvalue()
    last = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    existing = data.count(b"\xff\xda")
    return data[:end] + data[last:end] * max(0, scans - existing) + data[end:]


def rle_bmp(bits: int = 8, side: int = 4096) -> bytes:
    """An RLE8 (``bits`` 8) or RLE4 (4) BMP of ``side`` x ``side``: one pixel then end-of-line on every row (17 KB).

    Pillow decodes RLE BMPs in Python: 3-4 s of a worker for the 4096x4096 RLE8 (issue 24).
    """
    colours = 1 << bits
    rows = b"\x01\x00\x00\x00" * side + b"\x00\x01"  # a run of 1 pixel, end of line; ...; end of bitmap
    offset = 14 + 40 + 4 * colours
    compression = 1 if bits == 8 else 2  # BI_RLE8 or BI_RLE4
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, bits, compression, len(rows), 2835, 2835, colours, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + b"\0" * 4 * colours + rows


def _tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buffer, format="JPEG")
    return buffer.getvalue()


def jpeg_fill(count: int = 2_000_000) -> bytes:
    """An 8x8 JPEG with ``count`` fill bytes (FF) after SOI, which Pillow reads one at a time (2 MB: 1.2 s)."""
    data = _tiny_jpeg()
    return data[:2] + b"\xff" * count + data[2:]


def jpeg_comments(count: int = 500_000) -> bytes:
    """An 8x8 JPEG with ``count`` empty COM markers after SOI (2 MB at 500,000: 0.65 s in Pillow's Python)."""
    data = _tiny_jpeg()
    return data[:2] + b"\xff\xfe\x00\x02" * count + data[2:]


def png_chunks(count: int = 174_000) -> bytes:
    """An 8x8 PNG with ``count`` empty private chunks after IHDR (12 bytes each: 2.1 MB at 174,000)."""
    data = _png(Image.new("L", (8, 8), 255))
    return data[:33] + _png_chunk(b"prVt", b"") * count + data[33:]  # 33: the signature and IHDR


def png_profiles(count: int = 1_900) -> bytes:
    """An 8x8 PNG with ``count`` iCCP chunks after IHDR, each about 1 KB of zlib inflating to 1 MiB (Pillow's limit
    for one chunk): 2 MB at 1,900, which Pillow took 4.2 s to parse."""
    data = _png(Image.new("L", (8, 8), 255))
    profile = _png_chunk(b"iCCP", b"profile\0\0" + zlib.compress(b"\0" * (2**20 - 1), 9))
    return data[:33] + profile * count + data[33:]


def progressive_jpeg(side: int = 4096, mode: str = "CMYK") -> bytes:
    """A progressive JPEG of a 7, ``side`` x ``side`` in ``mode``: libjpeg holds every coefficient of it
    (4096x4096 CMYK: 128 MB, 415 KB of file)."""
    buffer = io.BytesIO()
    _seven(side).convert(mode).save(buffer, format="JPEG", progressive=True, quality=75)
    return buffer.getvalue()


def nested_json(depth: int = 100_000) -> bytes:
    """A JSON body whose ``image`` is an array nested ``depth`` deep."""
    return b'{"image": ' + b"[" * depth + b"]" * depth + b"}"


def one_pixel_line(width: int = 200) -> bytes:
    """A PNG 1 pixel high, white with a black stretch in the middle: a line with no height to speak of."""
    pixels = np.full((1, width), 255, np.uint8)
    pixels[0, width // 4 : 3 * width // 4] = 0
    return _png(Image.fromarray(pixels))


def two_dots() -> bytes:
    """A 6x3 PNG, white with two black dots side by side (a dash two pixels wide and one high)."""
    image = Image.new("L", (6, 3), 255)
    image.putpixel((2, 1), 0)
    image.putpixel((3, 1), 0)
    return _png(image)


def thin_strip(width: int = 2000, height: int = 8) -> bytes:
    """A ``width`` x ``height`` white strip with a black line 1 px high across it: a unit far wider than tall."""
    pixels = np.full((height, width), 255, np.uint8)
    pixels[height // 2, width // 20 : width - width // 20] = 0
    return _png(Image.fromarray(pixels))


def with_mpf(jpeg: bytes) -> bytes:
    """``jpeg`` with a phone's APP2 "MPF" segment after its SOI marker: Pillow then opens it as "MPO"."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "MPO", save_all=True, append_images=[Image.new("L", (8, 8))])
    small = buffer.getvalue()
    start = small.index(b"\xff\xe2")
    return jpeg[:2] + small[start : start + 2 + int.from_bytes(small[start + 2 : start + 4], "big")] + jpeg[2:]


def exif_png(entries: int = 40_000, orientation: int = 6) -> bytes:
    """The page's 7 with an eXIf chunk of ``entries`` EXIF entries (about 12 bytes each), the first an orientation
    (6: turn a quarter). Pillow parses EXIF entry by entry in Python."""
    fields = [(0x0112, 3, 1, struct.pack("<HH", orientation, 0))]
    fields += [(tag, 3, 1, b"\1\0\0\0") for tag in range(0x0200, 0x0200 + entries - 1)]
    tiff = b"II*\0" + struct.pack("<IH", 8, len(fields))
    tiff += b"".join(struct.pack("<HHI4s", *field) for field in sorted(fields)) + b"\0\0\0\0"
    png = seven_png()
    return png[:33] + _png_chunk(b"eXIf", tiff) + png[33:]  # after the signature and the IHDR chunk


def speck_chain(side: int = 1024) -> bytes:
    """A bilevel PNG of a few short dashes, a chain of 395 dots after them and 146,000 specks below (707 bytes):
    each dot of the chain once took a round of the line finder over every speck."""
    pixels = np.ones((side, side), bool)
    x = 2
    for width in (20, 19, 18, 17):
        pixels[300:302, x : x + width] = False
        x += width + 2
    for _ in range(395):
        pixels[300:302, x] = False
        x += 2
    pixels[306 : side * 860 // 1000 : 2, 4 : side - 4 : 2] = False
    return _png(Image.fromarray(pixels))


@dataclass
class Case:
    """One row of the table: the body, its Content-Type, and what it once cost."""

    name: str
    build: Callable[[], bytes]
    content_type: str = "image/png"
    before: str = ""


CASES = [
    Case("PNG 512x512, a dot every 2 px", dot_grid, before="9.4 s"),
    Case("PNG 1024x1024, a dot every 2 px", lambda: dot_grid(1024), before="worker killed at 20 s"),
    Case("PNG 16,777,216 x 1, alternating pixels", alternating_line, before="worker at 2.9 GB, killed"),
    Case("PNG 4096x4096 sparse noise, 5% ink", sparse_noise, before="worker at 3 GB, killed"),
    Case("16-bit RGBA PNG 4096x4096", rgba16_png, before="server at 680-700 MB"),
    Case("CMYK JPEG 4096x4096", cmyk_jpeg, "image/jpeg", before="server at 680-700 MB"),
    Case("RGBA PNG 4096x4096, a photo of a 7", photo_like),
    Case("RGBA PNG 2896x2896, a photo of a 7 (the costliest PNG accepted)", lambda: photo_like(2896)),
    Case("WebP 4096x4096, a photo of a 7", lambda: photo_like(fmt="WEBP", mode="RGB"), "image/webp"),
    Case(
        "WebP 2048x2048, a photo of a 7 (the costliest WebP accepted)",
        lambda: photo_like(2048, fmt="WEBP", mode="RGB"),
        "image/webp",
    ),
    Case("grey PNG 4096x4096, a photo of a 7 (the largest accepted)", lambda: photo_like(mode="L")),
    Case(
        "palette PNG 3662x3662 with a transparent colour, a photo of a 7",
        lambda: photo_like(3662, mode="P", transparency=255),
        before="200, 118 MB a decode",
    ),
    Case(
        "palette PNG 2730x2730 with a transparent colour, a photo of a 7 (the costliest palette PNG accepted)",
        lambda: photo_like(2730, mode="P", transparency=255),
        before="3662x3662 accepted: 610 MB summed RSS, 16 at once",
    ),
    Case("progressive JPEG, 25,000 scans", many_scan_jpeg, "image/jpeg", before="worker killed at 20 s"),
    Case("RLE8 BMP 4096x4096", rle_bmp, "image/bmp", before="422 after 3.9-4.3 s"),
    Case("RLE4 BMP 4096x4096", lambda: rle_bmp(4), "image/bmp", before="422 after 1.4 s"),
    Case("JPEG with 2 MB of fill bytes", jpeg_fill, "image/jpeg", before="422 after 1.2 s"),
    Case("JPEG with 500,000 empty COM markers", jpeg_comments, "image/jpeg", before="422 after 0.65 s"),
    Case("PNG with 174,000 chunks", png_chunks, before="422 after 0.56 s"),
    Case("PNG with 1,900 ICC profiles", png_profiles, before="200 after 4.2 s"),
    Case("progressive CMYK JPEG 4096x4096", progressive_jpeg, "image/jpeg", before="+131 MB a decode"),
    Case("JSON nested 100,000 deep", nested_json, "application/json", before="500"),
    Case("a 1-px-high line", one_pixel_line, before="500"),
    Case("a 6x3 image with two dots", two_dots, before="500"),
    Case("a 2000x8 strip", thin_strip, before="500"),
    Case(
        "progressive JPEG 1024x1024, 6,000 scans, opened as MPO",
        lambda: with_mpf(many_scan_jpeg(6000, 1024)),
        "image/jpeg",
        before="422 after 5.2 s",
    ),
    Case("PNG of a 7 with 40,000 EXIF entries", exif_png, before="200 after 3.6 s (65,000 entries)"),
    Case("PNG 1024x1024, 4 dashes, a chain of 395 dots, 146,000 specks", speck_chain, before="422 after 2.2 s"),
]

"""Read the few header bytes that bound what decoding will cost, before Pillow parses anything.

Pillow parses a JPEG's markers, a PNG's chunks and a GIF's extension blocks in Python, one at a time (a
JPEG's fill bytes one byte at a time), and decodes RLE BMPs in Python; libjpeg holds a progressive JPEG's
whole coefficient buffer. Each function here reads only as far as it must, with bytes methods and at most
``limit`` + 1 steps of Python, and reports what it saw; ``recognizer.decode`` decides what to refuse.
Nothing here raises on malformed data: a header it cannot follow is left for Pillow to reject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

JPEG_SIGNATURE = b"\xff\xd8\xff"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Markers with no length field: TEM, RST0-7, SOI, EOI.
_STANDALONE = {0x01, *range(0xD0, 0xDA)}
# Start-of-frame markers (C4 DHT, C8 JPG and CC DAC are not frames); the progressive ones.
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_FILL = re.compile(rb"\xff+")


@dataclass
class JpegHeader:
    """What a JPEG's markers before its first scan say, as far as the walk went.

    ``markers``: marker segments read (the walk stops at the limit + 1); ``padding``: fill bytes (FF) and
    junk between them, which Pillow reads one byte at a time; ``progressive``: a progressive frame was
    seen; ``frames``: (width, height, [(h, v) sampling of each component]) of each frame header;
    ``scan_components``: the components of the first scan (0 when no scan was reached).
    """

    markers: int = 0
    padding: int = 0
    progressive: bool = False
    frames: list[tuple[int, int, list[tuple[int, int]]]] = field(default_factory=list)
    scan_components: int = 0

    @property
    def buffered(self) -> bool:
        """Whether libjpeg will hold the whole coefficient buffer: a progressive JPEG, or a sequential one
        whose first scan holds fewer components than the frame (so more scans follow; jdinput.c)."""
        components = len(self.frames[-1][2]) if self.frames else 0
        return self.progressive or 0 < self.scan_components < components

    def coefficient_bytes(self) -> int:
        """Return the bytes of libjpeg's whole-image coefficient buffer for the largest frame (0 for none).

        Each component holds 64 2-byte coefficients a block of 8x8 of its own samples, in blocks rounded up
        to its sampling factors (libjpeg's jdcoefct.c): about width x height x components x 2 bytes
        without chroma subsampling, 1.5 x width x height x 2 for 4:2:0.
        """
        largest = 0
        for width, height, sampling in self.frames:
            h_max = max((h for h, _ in sampling), default=1) or 1
            v_max = max((v for _, v in sampling), default=1) or 1
            total = 0
            for h, v in sampling:
                columns = -(-width * h // (h_max * 8))
                rows = -(-height * v // (v_max * 8))
                total += _round_up(columns, max(h, 1)) * _round_up(rows, max(v, 1)) * 64 * 2
            largest = max(largest, total)
        return largest


def _round_up(count: int, multiple: int) -> int:
    return -(-count // multiple) * multiple


def jpeg_header(data: bytes, max_markers: int, max_padding: int) -> JpegHeader:
    """Walk a JPEG's marker segments from SOI to the first scan (SOS); return what they say.

    Stops early, with ``markers`` > ``max_markers`` or ``padding`` > ``max_padding``, so the walk's own cost
    is bounded by the limits (fill bytes are skipped by a regular expression, not in Python).
    """
    header = JpegHeader()
    position, end = 2, len(data)  # after SOI
    while header.markers <= max_markers and header.padding <= max_padding:
        start = data.find(b"\xff", position)
        if start < 0:
            break
        fill_end = _FILL.match(data, start).end()
        header.padding += (start - position) + (fill_end - start - 1)
        if fill_end >= end:
            break
        marker, position = data[fill_end], fill_end + 1
        if marker == 0x00:  # an escaped FF outside a scan: junk that Pillow skips
            header.padding += 2
            continue
        header.markers += 1
        if marker in _STANDALONE:
            if marker == 0xD9:
                break
            continue
        length = int.from_bytes(data[position : position + 2], "big")
        segment = data[position + 2 : position + length] if marker in _SOF else b""
        if len(segment) >= 6:
            height, width, count = int.from_bytes(segment[1:3], "big"), int.from_bytes(segment[3:5], "big"), segment[5]
            sampling = [(b >> 4, b & 15) for b in segment[7 : 6 + 3 * count : 3]]
            header.frames.append((width, height, sampling))
            header.progressive |= marker in _PROGRESSIVE
        if marker == 0xDA:
            header.scan_components = data[position + 2] if position + 2 < end else 0
            break
        if length < 2:
            break
        position += length
    return header


# Chunks whose data Pillow inflates as it parses them (an ICC profile, compressed text), up to 1 MiB each
# (``PngImagePlugin.MAX_TEXT_CHUNK``): a kilobyte of zlib can cost a millisecond or more of inflating.
_INFLATED_CHUNKS = {b"iCCP", b"zTXt", b"iTXt"}


def png_chunk_count(data: bytes, limit: int) -> tuple[int, int]:
    """Return the number of chunks in a PNG up to IEND, and how many of them Pillow inflates (iCCP, zTXt, iTXt),
    counting no further than ``limit`` + 1 chunks."""
    position, count, inflated = len(PNG_SIGNATURE), 0, 0
    while position + 8 <= len(data) and count <= limit:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        count += 1
        inflated += kind in _INFLATED_CHUNKS
        if kind == b"IEND":
            break
        position += 12 + length
    return count, inflated


def gif_block_count(data: bytes, limit: int) -> int:
    """Return the number of extension sub-blocks before a GIF's first image, counting no further than ``limit`` + 1."""
    if len(data) < 13:
        return 0
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    count = 0
    while position < len(data) and data[position] == 0x21 and count <= limit:
        position += 2  # the introducer and the extension's label
        while position < len(data) and count <= limit:
            size = data[position]
            count += 1
            position += 1 + size
            if size == 0:
                break
    return count


def bmp_compression(data: bytes) -> int:
    """Return a BMP's compression field (0 none, 1 RLE8, 2 RLE4, 3 bit fields, ...); 0 for an OS/2 1.x header."""
    if len(data) < 34 or int.from_bytes(data[14:18], "little") < 40:
        return 0
    return int.from_bytes(data[30:34], "little")

"""Fonts and text rendered in them: printed digits, letters and punctuation as ink.

Fonts come from $SYNTH_FONT_DIRS, Matplotlib's folder and /usr/share/fonts (Debian's fonts-* packages);
``fonts("train")`` and ``fonts("eval")`` are disjoint, so measured marks are made apart from training ones.
"""

from __future__ import annotations

import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synth.ink import crop_ink

# Symbol and decorative fonts whose digits are not digits.
FONT_EXCLUDE = (
    "cmex",
    "cmsy",
    "cmmi",
    "STIXSiz",
    "STIXNonUni",
    "LastResort",
    "Dingbat",
    "Symbol",
    "D050000L",
    "Z003",
    "DejaVuSansDisplay",
    "DejaVuSerifDisplay",
    "LinLibertine_M",
    "LinBiolinum_K",
)


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
            found.update(
                p
                for p in folder.rglob("*")
                if p.suffix.lower() in (".ttf", ".otf") and not any(x in p.name for x in FONT_EXCLUDE)
            )
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
        img = Image.fromarray(ink).transform(
            (w + pad, h),
            Image.Transform.AFFINE,
            (1, shear, -pad if shear > 0 else 0, 0, 1, 0),
            Image.Resampling.BILINEAR,
        )
        ink = crop_ink(np.asarray(img, np.float32))
    return ink


def printed_digit(label: int, rng: np.random.Generator, part: str = "train", height: int = 48) -> np.ndarray:
    """Render one digit in a random font of ``fonts(part)``: ink float32 cropped to its box."""
    font_list = fonts(part)
    return render_text(str(label), font_list[int(rng.integers(len(font_list)))], height, rng)

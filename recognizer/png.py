"""Encode images as PNG: the one encoder of the project (previews, tests, benchmarks, evaluation)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def encode_png(image: np.ndarray) -> bytes:
    """Return PNG bytes of an image: uint8 (H, W) or (H, W, 3|4) as is, float in [0, 1] scaled to 0..255."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def to_png_data_url(image: np.ndarray) -> str:
    """Encode an image (e.g. the float (28, 28) network input in [0, 1]) as a PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")

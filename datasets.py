"""The data sets, read from folders given as settings: MNIST (training and test), USPS and the real-world sets.

Images come back as MNIST does: uint8 with 0 = background and 255 = ink. The folders default to the shared
data beside the project (``../shared/data``); each can be set by an environment variable. Missing MNIST
files fall back to ``keras.datasets.mnist`` (needs internet); the others have no download.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np

from recognizer.mnist import ROOT

DATA_ROOT = ROOT.parent / "shared" / "data"
# Where the data lives: the MNIST_DATA_DIR / USPS_DATA_DIR settings, else the shared folder beside
# the project. Missing MNIST files fall back to keras.datasets.mnist (needs internet).
DEFAULT_MNIST_DIR = DATA_ROOT / "mnist"
DEFAULT_USPS_DIR = DATA_ROOT / "usps"
DEFAULT_REALWORLD_DIR = DATA_ROOT / "realworld"
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one gzip-compressed idx file (the MNIST format) into a uint8 array.

    The format (LeCun, "THE MNIST DATABASE"): a big-endian magic number 0x000008NN, where 08 means
    unsigned bytes and NN the number of dimensions, then NN big-endian uint32 sizes, then the data.
    Returns shape (count,) for labels and (count, rows, cols) for images.
    Raises ValueError when the header is not an idx header of unsigned bytes or the size is wrong.
    """
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an idx header")
    (magic,) = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: magic number {magic:#010x} is not an idx file of unsigned bytes")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, but there are {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the MNIST folder: the argument, else $MNIST_DATA_DIR, else ../shared/data/mnist."""
    return Path(data_dir or os.environ.get("MNIST_DATA_DIR") or DEFAULT_MNIST_DIR)


def load_mnist(data_dir: str | os.PathLike | None = None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, like keras.datasets.mnist.

    Images are uint8 (N, 28, 28) with 0 = background and 255 = ink; labels uint8 (N,).
    Reads the four idx files from ``mnist_dir(data_dir)``; where any is missing, falls back to
    ``keras.datasets.mnist.load_data()``, which downloads them (and so needs internet access).
    """
    folder = mnist_dir(data_dir)
    paths = {key: folder / name for key, name in MNIST_FILES.items()}
    if all(p.is_file() for p in paths.values()):
        arrays = {key: read_idx(p) for key, p in paths.items()}
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    print(f"MNIST files not found in {folder}; downloading with keras.datasets.mnist", file=sys.stderr)
    import keras

    return keras.datasets.mnist.load_data()


def load_usps(data_dir: str | os.PathLike | None = None, split: str = "test"):
    """Load the USPS digits (LeCun et al., 1990) as ``(images, labels)``.

    ``split`` is "test" (2,007 digits) or "train" (7,291). Images are uint8 (N, 16, 16) with
    0 = background and 255 = ink, the digit filling the frame; labels uint8 (N,).
    The folder is the argument, else $USPS_DATA_DIR, else ../shared/data/usps.
    Used only to measure generalisation: never train the shipped model on it.
    Raises FileNotFoundError when the file is absent (there is no download fallback).
    """
    folder = Path(data_dir or os.environ.get("USPS_DATA_DIR") or DEFAULT_USPS_DIR)
    with gzip.open(folder / f"zip.{split}.gz", "rt") as f:
        table = np.loadtxt(f, dtype=np.float32)
    labels = table[:, 0].astype(np.uint8)
    # Pixels are in [-1, 1] with -1 = background: map to MNIST's 0..255, ink = 255.
    images = np.round((table[:, 1:] + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    return images.reshape(-1, 16, 16), labels


def realworld_path(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return a real-world set's .npz: in the argument, else $REALWORLD_DATA_DIR, else ../shared/data/realworld."""
    return Path(data_dir or os.environ.get("REALWORLD_DATA_DIR") or DEFAULT_REALWORLD_DIR) / f"{name}.npz"


def load_realworld(name: str, data_dir: str | os.PathLike | None = None):
    """Load one real-world set (``sudoku_cells_train``, ``sudoku_cells_val``, ``orand_car_a_dev``).

    Returns ``(images, labels, groups)``: a list of the source files' bytes (JPEG, as the phone or scanner
    wrote them), and str arrays of labels ("1".."9", "blank", "candidates" for Sudoku cells; the amount's
    digits for ORAND) and sub-groups. The folder is the argument, else $REALWORLD_DATA_DIR, else
    ../shared/data/realworld (its README says which sets may be trained on).
    Raises FileNotFoundError when the file is absent (there is no download fallback).
    """
    with np.load(realworld_path(name, data_dir), allow_pickle=False) as data:
        blob, offsets = data["image"], data["offsets"]
        images = [blob[offsets[i] : offsets[i + 1]].tobytes() for i in range(len(offsets) - 1)]
        return images, data["label"].astype(str), data["group"].astype(str)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Turn uint8 (N, 28, 28) images, ink = 255, into the model's (N, 28, 28, 1) float32 in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]

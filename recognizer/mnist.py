"""MNIST's format and the model's contract: the constants every layer shares, in one place.

Input of every model: (N, 28, 28, 1) float32 in [0, 1], ink = 1 and background = 0 (MNIST polarity).
Output: (N, NUM_CLASSES) float32 probabilities (softmax): columns 0..9 are the digits and column
``NOT_A_DIGIT`` is "not a digit" (a line, a dot, a letter, a smudge).
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SIZE = 28  # MNIST images are 28x28 pixels
DIGIT_BOX = 20  # MNIST digits were scaled to fit a 20x20 box (LeCun et al., MNIST page)
MNIST_CENTRE = 14.0  # centre of mass of MNIST digits, in pixel-index coordinates (measured: 13.99, 14.00)
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_DIGITS = 10
NOT_A_DIGIT = 10  # the class index of "not a digit"
NUM_CLASSES = 11  # the digits 0..9 and "not a digit"

ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "mnist_cnn"
KERAS_MODEL_PATH = ROOT / f"{MODEL_NAME}.h5"  # source of truth
TFLITE_MODEL_PATH = ROOT / f"{MODEL_NAME}.tflite"  # derived from the .h5 by training.convert.convert_to_tflite()


def little_model_path(tflite_path: Path) -> Path:
    """The little network served in front of a float32 ``.tflite`` (``backends.CascadeBackend``): the file beside it
    named ``<stem>_int8.tflite``, its dynamic-range int8 conversion (``training.convert.convert_to_int8_weights``)."""
    return Path(tflite_path).with_name(f"{Path(tflite_path).stem}_int8.tflite")


LITTLE_MODEL_PATH = little_model_path(TFLITE_MODEL_PATH)


# The golden digits /healthz must read right: a 280x28 grey PNG (ink = 255) of 0..9, left to right. For each
# digit, the one of MNIST's first 2,000 test images that the shipped model read most surely (probability
# >= 0.99997): test indices 1333, 202, 1132, 90, 238, 375, 384, 307, 563, 501.
GOLDEN_DIGITS_PATH = ROOT / f"{MODEL_NAME}_golden.png"

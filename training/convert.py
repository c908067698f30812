"""Conversion of a saved Keras model to the float32 LiteRT flatbuffer the server runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recognizer.mnist import KERAS_MODEL_PATH, TFLITE_MODEL_PATH


def convert_if_possible(keras_path: Path, tflite_path: Path) -> None:
    """Convert to LiteRT where TensorFlow is installed; elsewhere (a JAX GPU machine) say how to later."""
    try:
        convert_to_tflite(keras_path, tflite_path)
    except ImportError:
        print(
            f"TensorFlow is not installed: run `python model.py convert --model {keras_path}` where it is",
            file=sys.stderr,
        )


def convert_to_tflite(
    keras_path: str | os.PathLike = KERAS_MODEL_PATH, tflite_path: str | os.PathLike = TFLITE_MODEL_PATH
) -> Path:
    """Convert a saved Keras model to a float32 LiteRT (TensorFlow Lite) flatbuffer.

    The .h5 stays the source of truth; the .tflite is what the server runs. No quantisation, so
    both give the same probabilities to within float rounding (checked by tests/test_model.py).
    """
    import keras
    import tensorflow as tf

    model = keras.models.load_model(keras_path, compile=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    tflite_path = Path(tflite_path)
    tflite_path.write_bytes(converter.convert())
    return tflite_path

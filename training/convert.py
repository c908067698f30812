"""Conversion of a saved Keras model to the LiteRT flatbuffers the server runs: float32, and its int8 little twin."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from recognizer.mnist import KERAS_MODEL_PATH, LITTLE_MODEL_PATH, TFLITE_MODEL_PATH, little_model_path


def convert_if_possible(keras_path: Path, tflite_path: Path) -> None:
    """Convert to LiteRT (float32 and the little int8 file beside it) where TensorFlow is installed; elsewhere (a
    JAX GPU machine) say how to later."""
    try:
        convert_to_tflite(keras_path, tflite_path)
        convert_to_int8_weights(keras_path, little_model_path(tflite_path))
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


def convert_to_int8_weights(
    keras_path: str | os.PathLike = KERAS_MODEL_PATH,
    tflite_path: str | os.PathLike = LITTLE_MODEL_PATH,
) -> Path:
    """Convert a saved Keras model to LiteRT with dynamic-range int8 weights: the little network of
    ``recognizer.backends.CascadeBackend``.

    Post-training dynamic-range quantisation (TensorFlow's ``Optimize.DEFAULT`` without a representative
    dataset): weights stored as int8, activations quantised on the fly, float32 input and output; a quarter of
    the size and 3-3.5x faster on these CPUs, probabilities within about 0.05 of the float32 network's (0.0022 on
    the inputs it is sure of). It needs no calibration data, so the same ``.h5`` gives the same file.
    """
    import keras
    import tensorflow as tf

    model = keras.models.load_model(keras_path, compile=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    tflite_path = Path(tflite_path)
    tflite_path.write_bytes(converter.convert())
    return tflite_path

"""Run the trained network behind one protocol: LiteRT (production) and Keras (development).

Every backend takes (N, 28, 28, 1) float32 in [0, 1] (ink = 1) and returns (N, K) float32
probabilities, K = 11 (digits 0..9 and "not a digit") or 10 for a digits-only model. LiteRT
(``ai-edge-litert``) runs the converted ``mnist_cnn.tflite`` and is what the server uses: no TensorFlow
is installed in production. The Keras backend serves the ``mnist_cnn.h5`` source of truth with
TensorFlow (``MODEL_BACKEND=keras``, development only).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from recognizer.mnist import IMAGE_SIZE, KERAS_MODEL_PATH, NUM_CLASSES, NUM_DIGITS, TFLITE_MODEL_PATH

BACKENDS = ("litert", "keras")
DEFAULT_BACKEND = "litert"
REBUILD_HINT = "rebuild it with `python model.py train` (or `python model.py convert` for the .tflite)"


class Backend(Protocol):
    """What the request path needs of a model: a name, the file it serves, and batched prediction."""

    name: str
    path: str | os.PathLike

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""


class ModelLoadError(RuntimeError):
    """The model or its runtime cannot be loaded; the message names the cause and the fix."""


class LiteRTBackend:
    """Serve ``mnist_cnn.tflite`` with the LiteRT interpreter, allocated once and reused.

    ``num_threads`` is the interpreter's CPU thread count: one per gunicorn worker, so workers
    do not oversubscribe the cores. Calls are serialised by a lock (the interpreter is not
    thread-safe), which costs nothing under gunicorn's one-request-per-worker sync workers.
    """

    name = "litert"

    def __init__(self, path: str | os.PathLike = TFLITE_MODEL_PATH, num_threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelLoadError(
                "The LiteRT runtime is not installed: run `pip install -r requirements.txt`."
            ) from exc
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"Model file {self.path} is missing: {REBUILD_HINT}.")
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except Exception as exc:  # the runtime reports a bad flatbuffer as ValueError or RuntimeError
            raise ModelLoadError(f"Model file {self.path} is not a valid LiteRT model ({exc}): {REBUILD_HINT}.") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 1
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input, batch.shape)
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()


class KerasBackend:
    """Serve ``mnist_cnn.h5`` with Keras/TensorFlow (needs requirements-dev.txt).

    Calls the model directly rather than ``model.predict``, which sets up a data pipeline on
    every call (tens of milliseconds for one image).
    """

    name = "keras"

    def __init__(self, path: str | os.PathLike = KERAS_MODEL_PATH):
        try:
            import keras
        except ImportError as exc:
            raise ModelLoadError(
                "MODEL_BACKEND=keras needs TensorFlow: run `pip install -r requirements-dev.txt`, "
                "or unset MODEL_BACKEND to use LiteRT."
            ) from exc
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"Model file {self.path} is missing: {REBUILD_HINT}.")
        try:
            self._model = keras.models.load_model(self.path, compile=False)
        except Exception as exc:  # h5py and Keras raise many types for a corrupt file
            raise ModelLoadError(f"Model file {self.path} is not a valid Keras model ({exc}): {REBUILD_HINT}.") from exc
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
        with self._lock:
            return np.asarray(self._model(np.asarray(batch, dtype=np.float32), training=False))


def load_backend(name: str | None = None, model_path: str | os.PathLike | None = None):
    """Load and check the backend ``name`` ("litert" or "keras"; default $MODEL_BACKEND or litert).

    ``model_path`` overrides the committed model file. The model is checked on a blank input:
    its output must be (1, 11) or (1, 10) finite probabilities that sum to 1 (``check_output``).
    Raises ModelLoadError with the cause and the fix.
    """
    name = (name or os.environ.get("MODEL_BACKEND") or DEFAULT_BACKEND).lower()
    if name == "litert":
        backend = LiteRTBackend(model_path or TFLITE_MODEL_PATH)
    elif name == "keras":
        backend = KerasBackend(model_path or KERAS_MODEL_PATH)
    else:
        raise ModelLoadError(f"MODEL_BACKEND={name!r} is not one of {', '.join(BACKENDS)}.")
    try:
        probabilities = backend.predict(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32))
    except Exception as exc:
        raise ModelLoadError(f"Model file {backend.path} does not take (1, 28, 28, 1) input ({exc}): {REBUILD_HINT}.") from exc
    problem = check_output(probabilities, 1)
    if problem:
        raise ModelLoadError(f"Model file {backend.path} {problem}: {REBUILD_HINT}.")
    return backend


def check_output(probabilities: np.ndarray, rows: int) -> str | None:
    """Return what is wrong with a model's output for ``rows`` inputs, or None when it is sound.

    Sound: shape (rows, 11) or (rows, 10), every value finite and in [0, 1], each row summing to 1
    within 1e-3 (a softmax). A model file whose weights hold NaN fails here, not in a client's JSON.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[0] != rows or probabilities.shape[1] not in (NUM_CLASSES, NUM_DIGITS):
        return f"gives output of shape {probabilities.shape}, not ({rows}, {NUM_CLASSES}) probabilities"
    if not np.all(np.isfinite(probabilities)):
        return "gives NaN or infinite outputs"
    if probabilities.min() < -1e-6 or probabilities.max() > 1 + 1e-6 or np.abs(probabilities.sum(axis=1) - 1).max() > 1e-3:
        return "gives outputs that are not probabilities (each row must be in [0, 1] and sum to 1)"
    return None

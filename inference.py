"""Run the trained network: the LiteRT and Keras backends, and the request path image -> answer.

Both backends take (N, 28, 28, 1) float32 in [0, 1] (ink = 1) and return (N, 10) float32
probabilities. LiteRT (``ai-edge-litert``) runs the converted ``mnist_cnn.tflite`` and is what
the server uses: no TensorFlow is installed in production. The Keras backend serves the
``mnist_cnn.h5`` source of truth with TensorFlow (``MODEL_BACKEND=keras``, development only).
"""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import preprocessing
from model import IMAGE_SIZE, KERAS_MODEL_PATH, MODEL_NAME, NUM_CLASSES, TFLITE_MODEL_PATH

BACKENDS = ("litert", "keras")
DEFAULT_BACKEND = "litert"
REBUILD_HINT = "rebuild it with `python model.py train` (or `python model.py convert` for the .tflite)"


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
        """Return (N, 10) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
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
        """Return (N, 10) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
        with self._lock:
            return np.asarray(self._model(np.asarray(batch, dtype=np.float32), training=False))


def load_backend(name: str | None = None, model_path: str | os.PathLike | None = None):
    """Load and check the backend ``name`` ("litert" or "keras"; default $MODEL_BACKEND or litert).

    ``model_path`` overrides the committed model file. The model is checked on a blank input:
    its output must be (1, 10) probabilities. Raises ModelLoadError with the cause and the fix.
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
    if probabilities.shape != (1, NUM_CLASSES) or abs(float(probabilities.sum()) - 1.0) > 1e-3:
        raise ModelLoadError(
            f"Model file {backend.path} gives output {probabilities.shape}, not (1, 10) probabilities: {REBUILD_HINT}."
        )
    return backend


@dataclass
class Prediction:
    """The network's reading of one image."""

    digit: int  # 0..9, the most probable class
    confidence: float  # its probability, in [0, 1]
    probabilities: np.ndarray  # (10,) float32, sums to 1
    preprocessed: np.ndarray  # (28, 28) float32 in [0, 1]: what the network saw

    def to_json(self) -> dict:
        """Return the API's JSON body: digit, confidence, probabilities and the preview data URL."""
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "probabilities": [float(p) for p in self.probabilities],
            "preprocessed": preprocessing.to_png_data_url(self.preprocessed),
        }


def predict_image(data: bytes, backend) -> Prediction:
    """Read the digit in image bytes: the whole request path, decode -> normalise -> network.

    Raises preprocessing.PreprocessingError (a client error) for unreadable or blank images.
    """
    image = preprocessing.preprocess(data)
    probabilities = backend.predict(image[np.newaxis, :, :, np.newaxis])[0]
    digit = int(np.argmax(probabilities))
    return Prediction(digit, float(probabilities[digit]), probabilities, image)


@dataclass
class USPSReport:
    """Accuracy on USPS through the request path, overall and per digit."""

    accuracy: float
    per_class: dict  # digit -> accuracy
    count: int
    blank: int  # images the pipeline refused as blank

    def format(self) -> str:
        """Return a short text table of the figures."""
        per_class = "  ".join(f"{d}: {a:.1%}" for d, a in sorted(self.per_class.items()))
        return f"USPS test accuracy through the request path: {self.accuracy:.2%} of {self.count}\n  {per_class}"


def evaluate_usps(backend=None, data_dir=None, split: str = "test", limit: int | None = None) -> USPSReport:
    """Score the model on USPS digits sent through ``predict_image`` like uploaded files.

    Each 16x16 USPS digit is encoded as a PNG of dark ink on white paper (as scanned), so it
    goes through decoding, polarity detection, cropping, scaling and centring like any request.
    """
    from PIL import Image

    from model import load_usps

    backend = backend or load_backend()
    images, labels = load_usps(data_dir, split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    correct, seen, blank = Counter(), Counter(), 0
    for image, label in zip(images, labels):
        buffer = io.BytesIO()
        Image.fromarray(255 - image).save(buffer, format="PNG")
        seen[int(label)] += 1
        try:
            prediction = predict_image(buffer.getvalue(), backend)
        except preprocessing.EmptyImageError:
            blank += 1
            continue
        correct[int(label)] += prediction.digit == label
    per_class = {d: correct[d] / seen[d] for d in sorted(seen)}
    return USPSReport(sum(correct.values()) / len(labels), per_class, len(labels), blank)


def model_info(backend) -> dict:
    """Return the model's name, backend and file for /healthz."""
    return {"model": MODEL_NAME, "backend": backend.name, "file": Path(backend.path).name}

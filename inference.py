"""Run the trained network: the LiteRT and Keras backends, and the request path image -> answer.

Both backends take (N, 28, 28, 1) float32 in [0, 1] (ink = 1) and return (N, 10) float32
probabilities. LiteRT (``ai-edge-litert``) runs the converted ``mnist_cnn.tflite`` and is what
the server uses: no TensorFlow is installed in production. The Keras backend serves the
``mnist_cnn.h5`` source of truth with TensorFlow (``MODEL_BACKEND=keras``, development only).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import preprocessing
from model import IMAGE_SIZE, KERAS_MODEL_PATH, MODEL_NAME, NUM_CLASSES, TFLITE_MODEL_PATH

BACKENDS = ("litert", "keras")
DEFAULT_BACKEND = "litert"
# A digit read with a probability under this is flagged "low_confidence": the input is probably
# not a digit (a scribble, a letter, half a digit). Chosen from evaluation.evaluate_low_confidence
# (README, "Not a digit"): the trade-off between catching non-digits and false alarms on real ones.
LOW_CONFIDENCE_THRESHOLD = 0.9
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
    """The network's reading of one digit."""

    digit: int  # 0..9, the most probable class
    confidence: float  # its probability, in [0, 1]
    probabilities: np.ndarray  # (10,) float32, sums to 1
    preprocessed: np.ndarray  # (28, 28) float32 in [0, 1]: what the network saw
    box: tuple[int, int, int, int]  # (x, y, width, height) of the digit in the image, pixels

    @property
    def low_confidence(self) -> bool:
        """Whether the network's confidence is under LOW_CONFIDENCE_THRESHOLD."""
        return self.confidence < LOW_CONFIDENCE_THRESHOLD

    def to_json(self) -> dict:
        """Return the digit's JSON: digit, confidence, probabilities, box and low_confidence."""
        return {"digit": self.digit, "confidence": self.confidence,
                "probabilities": [float(p) for p in self.probabilities], "box": list(self.box),
                "low_confidence": self.low_confidence}


@dataclass
class Reading:
    """Every digit found in one image, left to right; the single-digit fields are the strongest one's."""

    digits: list[Prediction]

    @property
    def strongest(self) -> Prediction:
        """The only digit, or the most confident of several."""
        return max(self.digits, key=lambda d: d.confidence)

    @property
    def number(self) -> str:
        """The digits read left to right, e.g. "2026"; one character for a single digit."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def digit(self) -> int:
        return self.strongest.digit

    def to_json(self) -> dict:
        """Return the API's JSON body.

        ``digit``, ``confidence``, ``probabilities`` and ``preprocessed`` (a PNG data URL of the 28x28
        input) describe the strongest digit, as for a single-digit drawing; ``digits`` lists every digit
        left to right with its ``box`` and ``number`` joins them. ``low_confidence`` is true when any
        digit's confidence is under LOW_CONFIDENCE_THRESHOLD: the input may not be a digit at all.
        """
        strongest = self.strongest
        return {
            "digit": strongest.digit,
            "confidence": strongest.confidence,
            "probabilities": [float(p) for p in strongest.probabilities],
            "low_confidence": any(d.low_confidence for d in self.digits),
            "preprocessed": preprocessing.to_png_data_url(strongest.preprocessed),
            "digits": [d.to_json() for d in self.digits],
            "number": self.number,
        }


def predict_image(data: bytes, backend) -> Reading:
    """Read the digits in image bytes: the whole request path, decode -> segment -> normalise -> network.

    Every span of units that could be one digit (``preprocessing.Segmentation.spans``) is
    normalised and read in one (N, 28, 28, 1) batch; the reading kept is the cover of the units by
    spans with the highest sum of log-probabilities of their digits (dynamic programming), so a
    broken digit is read whole and touching digits apart. One unit: one span, one network row.
    Raises preprocessing.PreprocessingError (a client error) for unreadable or blank images.
    """
    segmentation = preprocessing.segment(preprocessing.decode_image(data))
    spans = segmentation.spans()
    rendered = [segmentation.render(first, last) for first, last in spans]
    probabilities = backend.predict(np.stack([d.image for d in rendered])[:, :, :, np.newaxis])
    scores = np.log(np.maximum(probabilities.max(axis=1), 1e-12))

    # best[k]: the highest score of a reading of units 0..k-1, and the span that ends it.
    best = [(0.0, -1)] + [(-np.inf, -1)] * len(segmentation.units)
    for index, ((first, last), score) in enumerate(zip(spans, scores)):
        candidate = best[first][0] + score
        if candidate > best[last + 1][0]:
            best[last + 1] = (candidate, index)
    chosen, end = [], len(segmentation.units)
    while end > 0:
        index = best[end][1]
        chosen.append(index)
        end = spans[index][0]
    digits = []
    for index in reversed(chosen):
        row, digit = probabilities[index], rendered[index]
        top = int(np.argmax(row))
        digits.append(Prediction(top, float(row[top]), row, digit.image, digit.box))
    return Reading(digits)


def model_info(backend) -> dict:
    """Return the model's name, backend and file for /healthz."""
    return {"model": MODEL_NAME, "backend": backend.name, "file": Path(backend.path).name}

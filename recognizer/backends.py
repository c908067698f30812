"""Run the trained network behind one protocol: LiteRT (production) and Keras (development).

Every backend takes (N, 28, 28, 1) float32 in [0, 1] (ink = 1) and returns (N, K) float32
probabilities, K = 11 (digits 0..9 and "not a digit") or 10 for a digits-only model. LiteRT
(``ai-edge-litert``) runs the converted ``mnist_cnn.tflite`` (behind its int8 twin, ``CascadeBackend``) and is
what the server uses: no TensorFlow is installed in production. The Keras backend serves the ``mnist_cnn.h5``
source of truth with TensorFlow (``MODEL_BACKEND=keras``, development only).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from recognizer.mnist import (
    GOLDEN_DIGITS_PATH,
    IMAGE_SIZE,
    KERAS_MODEL_PATH,
    NOT_A_DIGIT,
    NUM_CLASSES,
    NUM_DIGITS,
    TFLITE_MODEL_PATH,
    little_model_path,
)

BACKENDS = ("litert", "keras")
DEFAULT_BACKEND = "litert"
# A row whose largest probability under the little network is below this is read again by the float32 network
# (CascadeBackend). Chosen on validation inputs: docs/performance.md, 2026-12-06 (sixth session).
CASCADE_THRESHOLD = 0.99
# Largest difference of any probability allowed between a little file and its float32 network on blended golden
# digits (``twin_problem``): measured 0.016 for the int8 conversion of the shipped network, 0.34-0.39 for int8 of
# it against four other networks (two distilled from it), so a little file left beside another network is caught.
TWIN_TOLERANCE = 0.1
# Batches larger than this go to the float32 network alone: each interpreter keeps the arena of the largest batch it
# has run (LiteRT: +10 MB for int8 and +15 MB for float32 at 73 rows, the most spans a number image may have), and a
# drawn digit is a batch of one to a few spans.
CASCADE_MAX_BATCH = 8
REBUILD_HINT = "rebuild it with `python model.py train` (or `python model.py convert` for the .tflite)"


class Backend(Protocol):
    """What the request path needs of a model: a name, the file it serves, and batched prediction."""

    name: str
    path: str | os.PathLike

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""


class ModelLoadError(RuntimeError):
    """The model or its runtime cannot be loaded; the message names the cause and the fix."""


class ModelOutputError(RuntimeError):
    """A loaded model gave output that is not probabilities (NaN, wrong shape): the server is sick."""


def _model_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path; raise ModelLoadError, naming the rebuild command, when it is no file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Model file {path} is missing: {REBUILD_HINT}.")
    return path


class LiteRTBackend:
    """Serve ``mnist_cnn.tflite`` with the LiteRT interpreter, allocated once and reused.

    The file is read into memory once (``model_content``), not mapped: a model file overwritten or
    deleted while the server runs cannot change or break the model it serves.

    ``num_threads`` is the interpreter's CPU thread count: one per gunicorn worker, so workers
    do not oversubscribe the cores. Calls are serialised by a lock (the interpreter is not
    thread-safe), which costs nothing while each gunicorn worker runs the app for one request at a time
    (``gunicorn_worker``: its threads read requests, one runs the app).
    """

    name = "litert"

    def __init__(self, path: str | os.PathLike = TFLITE_MODEL_PATH, num_threads: int = 1):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelLoadError("The LiteRT runtime is not installed: run `pip install -r requirements.txt`.") from exc
        self.path = _model_file(path)
        try:
            self._content = self.path.read_bytes()  # the interpreter keeps pointers into these bytes
            self._interpreter = Interpreter(model_content=self._content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except Exception as exc:  # the runtime reports a bad flatbuffer as ValueError or RuntimeError
            raise ModelLoadError(
                f"Model file {self.path} is not a valid LiteRT model ({exc}): {REBUILD_HINT}."
            ) from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape = tuple(self._interpreter.get_input_details()[0]["shape"])
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if batch.shape != self._shape:  # another batch size, or another line width (the string reader)
                self._interpreter.resize_tensor_input(self._input, batch.shape)
                self._interpreter.allocate_tensors()
                self._shape = batch.shape
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()


class CascadeBackend:
    """Read each input with a little network first and with the full one only where the little one is unsure.

    ``little``: the dynamic-range int8 file of the same network (``mnist.little_model_path``, made by
    ``training.convert.convert_to_int8_weights``), 3-3.5x faster on these CPUs; ``big``: the float32 network.
    A row whose largest probability under ``little`` is at least ``threshold`` keeps the little network's
    probabilities; every other row is read again by ``big``, whose probabilities replace them. On an input it is
    sure of, int8 moves no probability by more than 0.0022 at 0.99 (measured on validation inputs); the inputs it
    would move across ``low_confidence`` are the unsure ones, which ``big`` reads. The big/little design of Park et
    al., CODES+ISSS 2015; "IDK cascades", Wang et al., UAI 2018. ``path`` and ``name`` are ``big``'s.
    """

    def __init__(self, little: Backend, big: Backend, threshold: float = CASCADE_THRESHOLD):
        self.little, self.big, self.threshold = little, big, threshold
        self.name, self.path = big.name, big.path
        self.networks = (little, big)  # each health-checked on its own (``health_problem``)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]; a batch of more than
        ``CASCADE_MAX_BATCH`` rows is read by ``big`` alone."""
        if len(batch) > CASCADE_MAX_BATCH:
            return self.big.predict(batch)
        probabilities = np.array(self.little.predict(batch), dtype=np.float32)
        if probabilities.ndim != 2 or len(probabilities) != len(batch):
            return probabilities  # not probabilities: check_output says so
        unsure = ~(probabilities.max(axis=1) >= self.threshold)  # NaN rows are unsure too
        if unsure.any():
            probabilities[unsure] = self.big.predict(np.asarray(batch)[unsure])
        return probabilities


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
        self.path = _model_file(path)
        try:
            self._model = keras.models.load_model(self.path, compile=False)
        except Exception as exc:  # h5py and Keras raise many types for a corrupt file
            raise ModelLoadError(f"Model file {self.path} is not a valid Keras model ({exc}): {REBUILD_HINT}.") from exc
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return (N, K) float32 probabilities for a (N, 28, 28, 1) float32 batch in [0, 1]."""
        with self._lock:
            return np.asarray(self._model(np.asarray(batch, dtype=np.float32), training=False))


def backend_name(name: str | None = None) -> str:
    """Return the backend to serve: ``name``, else $MODEL_BACKEND, else "litert"; the one place it is read."""
    return (name or os.environ.get("MODEL_BACKEND") or DEFAULT_BACKEND).lower()


def probe_batch() -> np.ndarray:
    """Return a (2, 28, 28, 1) float32 batch for health checks: a blank input and a small cross of ink."""
    batch = np.zeros((2, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
    batch[1, 6:22, 13:15, 0] = 1.0
    batch[1, 13:15, 6:22, 0] = 1.0
    return batch


@functools.cache
def golden_digits(path: str | os.PathLike = GOLDEN_DIGITS_PATH) -> tuple[np.ndarray, np.ndarray]:
    """Return the golden digits shipped with the model: (10, 28, 28, 1) float32 in [0, 1] (ink = 1) and labels 0..9.

    Read once from ``path`` (``mnist.GOLDEN_DIGITS_PATH``: a 280x28 grey PNG of 0..9, left to right). Raises
    ModelLoadError, naming the file, when it is missing or not such a PNG.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            strip = np.asarray(image.convert("L"), np.float32) / 255.0
        images = strip.reshape(IMAGE_SIZE, NUM_DIGITS, IMAGE_SIZE).transpose(1, 0, 2)[..., np.newaxis]
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Golden digits file {path} is missing or not a 280x28 PNG ({exc}): "
            "it ships with the model; restore it with `git checkout`."
        ) from exc
    return images, np.arange(NUM_DIGITS)


def health_problem(backend, golden: bool = False) -> str | None:
    """Run ``backend`` on ``probe_batch()`` and return what is wrong with it, or None when it is sound.

    With ``golden``, the golden digits (``golden_digits``) go in the same batch and each must be read as
    itself: a model whose weights are zeroed gives probabilities, but reads every digit alike.
    """
    networks = getattr(backend, "networks", ())
    if networks:  # a cascade answers each row with one of its networks: sound when each is sound on its own
        for network in networks:
            problem = health_problem(network, golden)
            if problem:
                return f"({Path(network.path).name}) {problem}"
        return None
    batch = probe_batch()
    if golden:
        images, labels = golden_digits()
        batch = np.concatenate([batch, images])
    try:
        probabilities = backend.predict(batch)
    except Exception as exc:  # any failure of the runtime is a sick model, reported, not raised
        return f"fails on a {tuple(batch.shape)} input ({type(exc).__name__}: {exc})"
    problem = check_output(probabilities, len(batch))
    if problem or not golden:
        return problem
    read = np.asarray(probabilities)[len(batch) - len(labels) :].argmax(axis=1)
    if np.any(read != labels):
        seen = "".join("?" if digit == NOT_A_DIGIT else str(digit) for digit in read)
        return f"reads its golden digits {''.join(map(str, labels))} as {seen}"
    return None


def twin_problem(little: Backend, big: Backend) -> str | None:
    """Return why ``little`` is not ``big``'s int8 twin, or None: on the 45 blends of two golden digits (inputs
    the network is unsure of, where two networks part) their probabilities must agree within ``TWIN_TOLERANCE``. A
    retrained ``mnist_cnn.tflite`` copied over the committed one, with the old ``mnist_cnn_int8.tflite`` left beside
    it, would otherwise answer every sure input with the old network."""
    images, _ = golden_digits()
    pairs = [(i, j) for i in range(len(images)) for j in range(i + 1, len(images))]
    blends = np.stack([np.maximum(images[i], images[j]) * 0.8 for i, j in pairs])
    difference = max(  # in batches the cascade runs, so that neither interpreter's arena grows for the check
        float(np.max(np.abs(np.asarray(little.predict(part)) - np.asarray(big.predict(part)))))
        for part in np.array_split(blends, -(-len(blends) // CASCADE_MAX_BATCH))
    )
    if not difference <= TWIN_TOLERANCE:  # NaN too
        return (
            f"is not the int8 conversion of {Path(big.path).name} (their probabilities differ by up to "
            f"{difference:.2f}, at most {TWIN_TOLERANCE} for its own): run `python model.py convert`, or delete it "
            "to serve the float32 file alone"
        )
    return None


def load_backend(name: str | None = None, model_path: str | os.PathLike | None = None, cascade: bool = True):
    """Load and check the backend ``name`` ("litert" or "keras"; default ``backend_name()``).

    ``model_path`` overrides the committed model file. For LiteRT, where the little int8 file of that model lies
    beside it (``mnist.little_model_path``) and ``cascade`` is true, the two are served as a ``CascadeBackend``;
    otherwise the float32 file alone. The model (each network of a cascade) is checked on a blank input and on a
    cross of ink (``health_problem``): its output must be (2, 11) or (2, 10) finite probabilities that sum to 1
    (``check_output``), so a model whose weights give NaN never starts; and a little file must be its model's
    twin (``twin_problem``). Raises ModelLoadError with the cause and the fix.
    """
    name = backend_name(name)
    if name == "litert":
        backend = LiteRTBackend(model_path or TFLITE_MODEL_PATH)
        little = little_model_path(backend.path)
        if cascade and little.is_file():
            backend = CascadeBackend(LiteRTBackend(little), backend)
    elif name == "keras":
        backend = KerasBackend(model_path or KERAS_MODEL_PATH)
    else:
        raise ModelLoadError(f"MODEL_BACKEND={name!r} is not one of {', '.join(BACKENDS)}.")
    problem = health_problem(backend)
    if problem:
        raise ModelLoadError(f"Model file {backend.path} {problem}: {REBUILD_HINT}.")
    if isinstance(backend, CascadeBackend):
        problem = twin_problem(backend.little, backend.big)
        if problem:
            raise ModelLoadError(f"Model file {backend.little.path} {problem}.")
    return backend


def check_output(probabilities: np.ndarray, rows: int) -> str | None:
    """Return what is wrong with a model's output for ``rows`` inputs, or None when it is sound.

    Sound: shape (rows, 11) or (rows, 10), every value finite and in [0, 1], each row summing to 1
    within 1e-3 (a softmax). A model file whose weights hold NaN fails here, not in a client's JSON.
    """
    probabilities = np.asarray(probabilities)
    if (
        probabilities.ndim != 2
        or probabilities.shape[0] != rows
        or probabilities.shape[1] not in (NUM_CLASSES, NUM_DIGITS)
    ):
        return f"gives output of shape {probabilities.shape}, not ({rows}, {NUM_CLASSES}) probabilities"
    if not np.all(np.isfinite(probabilities)):
        return "gives NaN or infinite outputs"
    if (
        probabilities.min() < -1e-6
        or probabilities.max() > 1 + 1e-6
        or np.abs(probabilities.sum(axis=1) - 1).max() > 1e-3
    ):
        return "gives outputs that are not probabilities (each row must be in [0, 1] and sum to 1)"
    return None

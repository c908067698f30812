"""Model files made for tests from the committed ones: other networks that load as the served one does.

Each writes a copy of the committed .tflite with some weights overwritten, found by their bytes: a weight array of
the .h5, as float32 (kernels transposed, as TFLite stores them (out, in)), occurs once in the flatbuffer.
"""

from __future__ import annotations

import h5py
import numpy as np

from recognizer.mnist import KERAS_MODEL_PATH, TFLITE_MODEL_PATH


def _weights(suffix: str) -> list[np.ndarray]:
    """The .h5's weight arrays whose names end with ``suffix``, in the file's order."""
    found = []
    with h5py.File(KERAS_MODEL_PATH) as weights:
        weights["model_weights"].visititems(
            lambda name, item: found.append(item[()]) if name.endswith(suffix) else None
        )
    assert found, suffix
    return found


def _overwritten(path, replacements: list[tuple[bytes, bytes]]):
    """Write the committed .tflite to ``path`` with each (old, new) run of bytes replaced; return ``path``."""
    model = TFLITE_MODEL_PATH.read_bytes()
    for old, new in replacements:
        assert model.count(old) == 1 and len(new) == len(old)
        model = model.replace(old, new)
    path.write_bytes(model)
    return path


def zeroed_tflite(path):
    """A copy whose output layers' kernels are zero (every member's): it still gives probabilities (the softmax of
    its biases), the same for every input."""
    kernels = [np.ascontiguousarray(np.asarray(k, np.float32).T).tobytes() for k in _weights("dense_1/kernel")]
    return _overwritten(path, [(raw, bytes(len(raw))) for raw in kernels])


def nan_tflite(path):
    """A copy whose output layer's bias (the .h5's last) is NaN."""
    raw = np.asarray(_weights("bias")[-1], np.float32).tobytes()
    return _overwritten(path, [(raw, np.full(len(raw) // 4, np.nan, np.float32).tobytes())])

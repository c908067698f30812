"""Ensembles: train several digit networks from successive seeds, or combine saved ones, into one averaged model."""

from __future__ import annotations

import json
import os
from pathlib import Path

from recognizer.mnist import KERAS_MODEL_PATH, ROOT, TFLITE_MODEL_PATH
from training.convert import convert_if_possible
from training.digits import TrainResult, mnist_test_accuracy, train
from training.network import HISTORY_FILENAME, MEMBERS, SEED, build_ensemble


def train_ensemble(
    members: int = MEMBERS, output_dir: str | os.PathLike = ROOT, seed: int = SEED, data_dir=None, **options
) -> TrainResult:
    """Train ``members`` CNNs from seeds ``seed``, ``seed + 1``, ... and save their average.

    Each member is trained by ``train`` (``options`` are its keyword arguments) into
    ``output_dir/members/seed-N``; the ensemble (``build_ensemble``) is saved as ``mnist_cnn.h5`` and
    ``mnist_cnn.tflite`` in ``output_dir`` with ``training_history.json`` holding every member's
    history. With one member, this is ``train`` itself.
    """
    if members == 1:
        return train(data_dir, output_dir, seed=seed, **options)
    output_dir = Path(output_dir)
    results = [
        train(data_dir, output_dir / "members" / f"seed-{seed + i}", seed=seed + i, **options) for i in range(members)
    ]
    return combine(
        [r.keras_path for r in results],
        output_dir,
        data_dir,
        options.get("test_limit"),
        seconds=sum(r.seconds for r in results),
    )


def combine(
    member_paths: list,
    output_dir: str | os.PathLike = ROOT,
    data_dir=None,
    test_limit: int | None = None,
    seconds: float | None = None,
) -> TrainResult:
    """Average saved member models into ``output_dir``/mnist_cnn.h5 (+ .tflite), score it on MNIST test.

    The members' ``training_history.json`` files are gathered into the ensemble's.
    """
    import keras

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    member_models = [keras.models.load_model(p, compile=False) for p in member_paths]
    ensemble = build_ensemble(member_models)
    test_accuracy, test_images = mnist_test_accuracy(ensemble, data_dir, test_limit)
    keras_path = output_dir / KERAS_MODEL_PATH.name
    tflite_path = output_dir / TFLITE_MODEL_PATH.name
    ensemble.save(keras_path, include_optimizer=False)
    convert_if_possible(keras_path, tflite_path)
    records = [json.loads((Path(p).parent / HISTORY_FILENAME).read_text()) for p in member_paths]
    seconds = seconds if seconds is not None else sum(r["training_seconds"] for r in records)
    record = {
        "members": records,
        "test_accuracy": test_accuracy,
        "test_images": test_images,
        "training_seconds": round(seconds, 1),
    }
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(ensemble, records[0]["history"], test_accuracy, seconds, keras_path, tflite_path)

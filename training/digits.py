"""The digit network's training run: MNIST and the extra set, augmented, into ``mnist_cnn.h5`` and ``.tflite``.

Training runs on any Keras 3 backend (TensorFlow here; JAX or PyTorch on a GPU machine): augmentation is
written in ``keras.ops``. TensorFlow is imported only to convert the model to LiteRT.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets import load_mnist, to_model_input
from recognizer.mnist import (
    IMAGE_SIZE,
    INPUT_SHAPE,
    KERAS_MODEL_PATH,
    NOT_A_DIGIT,
    NUM_CLASSES,
    ROOT,
    TFLITE_MODEL_PATH,
)
from training.augment import augmentation_layer
from training.convert import convert_if_possible
from training.extra import extra_training_set
from training.network import (
    BATCH_SIZE,
    EPOCHS,
    EXTRA_SCALE,
    HISTORY_FILENAME,
    LEARNING_RATE,
    SEED,
    VALIDATION_SIZE,
    build_model,
)


@dataclass
class TrainResult:
    """What ``train`` produced: the model, its per-epoch history, test accuracy and file paths."""

    model: object
    history: dict
    test_accuracy: float
    seconds: float
    keras_path: Path
    tflite_path: Path


def train(
    data_dir=None,
    output_dir: str | os.PathLike = ROOT,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    train_limit: int | None = None,
    test_limit: int | None = None,
    validation_size: int = VALIDATION_SIZE,
    seed: int = SEED,
    extra_scale: float = EXTRA_SCALE,
    extra_cache: str | os.PathLike | None = None,
    verbose="auto",
    extra_data: str | os.PathLike | None = None,
    init_model: str | os.PathLike | None = None,
    learning_rate: float = LEARNING_RATE,
    teacher: str | os.PathLike | None = None,
    temperature: float = 1.0,
) -> TrainResult:
    """Train the CNN on MNIST's training images and the extra set; save ``mnist_cnn.h5`` (and ``.tflite``).

    ``validation_size`` MNIST images, and a tenth of the extra set, are held out of training for validation;
    the MNIST test set is only used for the final score, on ``test_limit`` images or all 10,000.
    ``extra_scale`` sizes the extra set (``extra_training_set``; 0 = MNIST alone); ``extra_cache``, an .npz
    path, keeps it between runs (made when absent). The learning rate follows a cosine decay from
    ``LEARNING_RATE`` over all steps (Adam). ``verbose`` is passed to ``keras.Model.fit`` ("auto" shows a
    progress bar per epoch). Runs on any Keras backend; the LiteRT conversion needs TensorFlow and is skipped
    (with a note) without it. Writes the model files and ``training_history.json`` into ``output_dir``.
    ``extra_data``: an .npz of corrections (``load_extra_data``, labels 10 = not a digit) added to the
    training images only, never to the validation or test sets.
    ``init_model``: a saved .h5 of this network (11 outputs) to go on training from (fine-tuning: a few epochs
    at a lower ``learning_rate`` teach new styles without a full run), instead of ``build_model``'s fresh weights;
    the record beside it, if any, is kept in the new one as ``init_record``.
    ``teacher``: a saved network whose probabilities of each augmented batch are the targets instead of the labels
    (``training.distill``), softened at ``temperature``.
    Raises ValueError when that model's input or output shape is not the contract's (``INPUT_SHAPE``, 11).
    """
    import keras

    keras.utils.set_random_seed(seed)
    mnist_train, (x_test, y_test) = load_mnist(data_dir)
    (x_fit, y_fit), (x_val, y_val), rng = mnist_split(mnist_train, seed, train_limit, validation_size)
    extra_count = 0
    if extra_scale:
        x_extra, y_extra = extra_set((x_fit, y_fit), extra_scale, seed, extra_cache)
        held = rng.permutation(len(x_extra))
        cut = len(x_extra) // 10
        x_fit = np.concatenate([x_fit, x_extra[held[cut:]]])
        y_fit = np.concatenate([y_fit, y_extra[held[cut:]]])
        x_val = np.concatenate([x_val, x_extra[held[:cut]]])
        y_val = np.concatenate([y_val, y_extra[held[:cut]]])
        extra_count = len(x_extra)
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    corrections_count = 0
    if extra_data is not None:  # labels 10 (not a digit) are the 11th class's
        x_more, y_more = load_extra_data(extra_data)
        x_fit, y_fit = np.concatenate([x_fit, x_more]), np.concatenate([y_fit, y_more])
        corrections_count = int(len(x_more))

    steps_per_epoch = int(np.ceil(len(x_fit) / batch_size))
    model = build_model() if init_model is None else _load_for_training(init_model)
    if teacher is None:
        trainer = keras.Sequential([keras.Input(shape=INPUT_SHAPE), augmentation_layer(seed), model], name="trainer")
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        from training.distill import distillation_loss, distillation_trainer, student_accuracy

        trainer = distillation_trainer(model, _load_for_training(teacher), seed)
        loss, metrics = distillation_loss(temperature), [student_accuracy]
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch, alpha=0.01)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=metrics)
    start = time.perf_counter()
    fit = trainer.fit(
        to_model_input(x_fit),
        y_fit,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        validation_data=(to_model_input(x_val), y_val) if validation_size else None,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    test_accuracy = float(np.mean(predict_digits(model, x_test) == y_test))

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras_path = output_dir / KERAS_MODEL_PATH.name
    tflite_path = output_dir / TFLITE_MODEL_PATH.name
    model.save(keras_path, include_optimizer=False)
    convert_if_possible(keras_path, tflite_path)
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    record = {
        "history": history,
        "test_accuracy": test_accuracy,
        "test_images": int(len(x_test)),
        "train_images": int(len(x_fit)),
        "extra_images": int(extra_count),
        "correction_images": corrections_count,
        "validation_images": int(len(x_val)),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "extra_scale": extra_scale,
        "init_model": str(init_model) if init_model is not None else None,
        "init_record": _history_beside(init_model),
        "learning_rate": learning_rate,
        "teacher": str(teacher) if teacher is not None else None,
        "teacher_record": _history_beside(teacher),
        "temperature": temperature if teacher is not None else None,
        "keras_backend": keras.backend.backend(),
        "training_seconds": round(seconds, 1),
    }
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(model, history, test_accuracy, seconds, keras_path, tflite_path)


def mnist_split(mnist_train, seed: int = SEED, train_limit: int | None = None, validation_size: int = VALIDATION_SIZE):
    """Split MNIST's training (images, labels) by ``seed``: ((x_fit, y_fit), (x_val, y_val), rng), uint8
    (N, 28, 28) and (N,).

    ``train_limit`` keeps that many images in all; at most a fifth of them go to validation. ``rng`` is the
    generator after the split, which ``train`` goes on drawing from."""
    x_train, y_train = mnist_train
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    if train_limit:
        order = order[:train_limit]
    validation_size = min(validation_size, len(order) // 5)
    val_idx, fit_idx = order[:validation_size], order[validation_size:]
    return (x_train[fit_idx], y_train[fit_idx]), (x_train[val_idx], y_train[val_idx]), rng


def extra_set(mnist_fit, scale: float, seed: int, cache: str | os.PathLike | None = None):
    """The extra training set of ``seed`` (``extra_training_set`` from the MNIST images ``mnist_fit``), read from
    the .npz ``cache`` when it exists, else made (and written there when given): (x uint8 (N, 28, 28), y uint8)."""
    cache = Path(cache) if cache else None
    if cache and cache.is_file():
        with np.load(cache) as stored:
            return stored["x"], stored["y"]
    x_extra, y_extra = extra_training_set(mnist_fit, scale, seed)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, x=x_extra, y=y_extra)
    return x_extra, y_extra


def _history_beside(model_path: str | os.PathLike | None) -> dict | None:
    """Return the ``training_history.json`` record beside a saved model (how it was trained), or None.

    A fine-tuned model's record holds its starting model's this way, so the whole chain of runs stays known.
    """
    if model_path is None:
        return None
    path = Path(model_path).parent / HISTORY_FILENAME
    return json.loads(path.read_text()) if path.is_file() else None


def _load_for_training(path: str | os.PathLike):
    """Load a saved network to train further; ValueError when it does not take (N, 28, 28, 1) to (N, 11)."""
    import keras

    model = keras.models.load_model(path, compile=False)
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != NUM_CLASSES:
        raise ValueError(
            f"{path} maps {model.input_shape} to {model.output_shape}, not {(None, *INPUT_SHAPE)} to "
            f"{(None, NUM_CLASSES)}: train it anew with `python model.py train`."
        )
    return model


def load_extra_data(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load training images from an .npz written by ``flask --app app corrections export``.

    Returns its ``images`` uint8 (N, 28, 28), ink = 255 (MNIST polarity), and ``labels`` uint8 (N,):
    0..9, or 10 for "not a digit". Raises ValueError when the file lacks them or they disagree.
    """
    with np.load(path) as data:
        if "images" not in data or "labels" not in data:
            raise ValueError(
                f"{path} has no 'images' and 'labels' arrays: write it with `flask --app app corrections export`."
            )
        images, labels = data["images"].astype(np.uint8), data["labels"].astype(np.uint8)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels) or (labels > 10).any():
        raise ValueError(f"{path}: images {images.shape} and labels {labels.shape} are not (N, 28, 28) and (N,) 0..10.")
    return images, labels


def predict_digits(net, images: np.ndarray) -> np.ndarray:
    """Return the most probable digit (0..9, the "not a digit" column ignored) of uint8 (N, 28, 28) images."""
    probabilities = np.asarray(net.predict(to_model_input(images), batch_size=1000, verbose=0))
    return probabilities[:, :NOT_A_DIGIT].argmax(axis=1)


def mnist_test_accuracy(net, data_dir=None, limit: int | None = None) -> tuple[float, int]:
    """Return a Keras model's accuracy on the MNIST test set (first ``limit`` images) and the image count."""
    _, (x_test, y_test) = load_mnist(data_dir)
    if limit:
        x_test, y_test = x_test[:limit], y_test[:limit]
    return float(np.mean(predict_digits(net, x_test) == y_test)), len(y_test)

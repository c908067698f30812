"""The digit network: the Keras CNN, its training data, augmentation, training and conversion.

Input contract of every model this module builds or saves (``recognizer.mnist``):
    (N, 28, 28, 1) float32 in [0, 1], ink = 1 and background = 0 (MNIST polarity).
Output: (N, 11) float32 probabilities (softmax): the digits 0..9 and "not a digit" (column 10).

Training runs on any Keras 3 backend (TensorFlow here; JAX or PyTorch on a GPU machine): augmentation is
written in ``keras.ops``. TensorFlow is imported only to convert the model to LiteRT. The server never
imports this module.

Command line (see ``python model.py --help``):
    python model.py train [--members 1] [--epochs 30] [--extra-scale 1] [--data-dir DIR] [--output-dir DIR] [--extra-data PATH.npz]
    python model.py combine runs/ens/members/seed-*/mnist_cnn.h5   # average members already trained
    python model.py convert
    python model.py train-strings [--steps N] [--synthetic N]   # the string reader (training/strings.py)
Measurements: ``python evaluation.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets import load_mnist, to_model_input
from recognizer.mnist import (IMAGE_SIZE, INPUT_SHAPE, KERAS_MODEL_PATH, MODEL_NAME, NOT_A_DIGIT, NUM_CLASSES, ROOT,
                              TFLITE_MODEL_PATH)

HISTORY_FILENAME = "training_history.json"

# Training defaults (the committed model was trained with these; see README "Results").
SEED = 20261121
EPOCHS = 30
BATCH_SIZE = 128
VALIDATION_SIZE = 5_000  # taken from the 60,000 training images, never from the test set
LEARNING_RATE = 2e-3
EXTRA_SCALE = 1.0  # the extra training set's size, a multiple of EXTRA_COUNTS (0 = MNIST alone)
MEMBERS = 1  # networks averaged in the shipped model (see build_ensemble); seeds SEED, SEED + 1, ...


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def build_model():
    """Build the CNN (uncompiled): input (N, 28, 28, 1) float32 in [0, 1], output (N, 11) probabilities.

    Two VGG-style blocks of 3x3 convolutions with batch normalisation, then a dense head with
    dropout: the family that reaches 99.6-99.7% on MNIST with augmentation (e.g. Deotte, "How to
    choose CNN architecture MNIST", Kaggle 2018), small enough to train on 2 CPU cores.
    """
    import keras
    from keras import layers

    def conv_bn(filters):
        # Bias is redundant before batch normalisation.
        return [layers.Conv2D(filters, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU()]

    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            *conv_bn(32),  # (B, 26, 26, 32)
            *conv_bn(32),  # (B, 24, 24, 32)
            layers.MaxPooling2D(),  # (B, 12, 12, 32)
            layers.Dropout(0.2),
            *conv_bn(64),  # (B, 10, 10, 64)
            *conv_bn(64),  # (B, 8, 8, 64)
            layers.MaxPooling2D(),  # (B, 4, 4, 64)
            layers.Dropout(0.25),
            layers.Flatten(),  # (B, 1024)
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(0.4),
            layers.Dense(NUM_CLASSES, activation="softmax"),  # (B, 11): digits 0..9 and "not a digit"
        ],
        name=MODEL_NAME,
    )


def build_ensemble(members: list):
    """Average the probabilities of several trained CNNs in one Keras model, same input and output.

    ``members``: Keras models with the input contract above. The average of members trained from
    different seeds is a better and better-calibrated classifier than any one of them; in LiteRT
    each member costs about 0.1 ms. A single member is returned unchanged.
    """
    import keras

    if len(members) == 1:
        return members[0]
    inputs = keras.Input(shape=INPUT_SHAPE)
    for i, member in enumerate(members):
        member.name = f"member_{i}"
    outputs = keras.layers.Average()([member(inputs) for member in members])  # (B, 10)
    return keras.Model(inputs, outputs, name=MODEL_NAME)


def augment(images, seed=None):
    """Randomly distort a batch the way real drawings differ from MNIST, in ``keras.ops`` (any backend).

    ``images``: (B, 28, 28, 1) float32 in [0, 1], ink = 1. Returns the same shape and range.
    ``seed``: a ``keras.random.SeedGenerator`` (or int) for the random draws.
    - Stroke thickness: a quarter of the batch is dilated with a 3x3 max filter (thicker pen), a tenth
      eroded with a 2x2 min filter (thinner pen), as canvas strokes are rarely MNIST's width.
    - One random affine map per image about the centre: rotation within +-12 degrees, shear
      within +-0.15, scale 0.9-1.1 per axis, shift within +-2 px (the digit stays centred by mass
      in serving, so shifts are small).
    """
    import keras
    from keras import ops

    batch = ops.shape(images)[0]

    def uniform(shape, low=0.0, high=1.0):
        return keras.random.uniform(shape, low, high, seed=seed)

    thicker = ops.max_pool(images, pool_size=3, strides=1, padding="same")
    thinner = -ops.max_pool(-images, pool_size=2, strides=1, padding="same")
    pick = uniform((batch, 1, 1, 1))
    images = ops.where(pick < 0.25, thicker, ops.where(pick < 0.35, thinner, images))

    angle = uniform((batch,), -12.0, 12.0) * (np.pi / 180.0)
    shear = uniform((batch,), -0.15, 0.15)
    scale_x = uniform((batch,), 0.9, 1.1)
    scale_y = uniform((batch,), 0.9, 1.1)
    shift_x = uniform((batch,), -2.0, 2.0)
    shift_y = uniform((batch,), -2.0, 2.0)
    cos, sin = ops.cos(angle), ops.sin(angle)
    # Inverse of (rotate . shear . scale): map each output pixel back to where it samples from.
    a0 = cos / scale_x
    a1 = (sin + shear * cos) / scale_x
    b0 = -sin / scale_y
    b1 = (cos - shear * sin) / scale_y
    centre = (IMAGE_SIZE - 1) / 2.0
    a2 = centre - a0 * centre - a1 * centre - shift_x
    b2 = centre - b0 * centre - b1 * centre - shift_y
    zeros = ops.zeros_like(angle)
    transforms = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    images = ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                        fill_value=0.0, data_format="channels_last")
    return ops.clip(images, 0.0, 1.0)


def augmentation_layer(seed: int):
    """Return a Keras layer that applies ``augment`` in training and passes images through otherwise."""
    import keras

    class Augment(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images, training=None):
            return augment(images, self.seed_generator) if training else images

    return Augment(name="augment")


# --------------------------------------------------------------------------------------------
# Training data beyond MNIST: what real photos, scans and canvases hold
# --------------------------------------------------------------------------------------------

# Samples per unit of ``extra_scale`` (the committed model: scale 1). Scenes give several samples each.
EXTRA_COUNTS = {"non-digits": 36_000, "printed digits": 14_000, "styled digits": 8_000, "slanted digits": 8_000,
                "cell scenes": 16_000, "amount scenes": 7_000}
CELL_CONTENTS = ("digit", "digit", "digit", "blank", "blank", "candidates")
CELL_REPHOTOS = 2  # each real training cell is also read as this many new photos of it (synthetic.rephotograph)


def _extra_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """Make one chunk of the extra training set (a process pool's unit of work): (x uint8, y uint8)."""
    import synthetic

    part, count, seed, mnist_digits = args
    rng = np.random.default_rng(seed)
    if part == "sudoku_cells_train":  # count = the chunk's first cell; mnist_digits = the chunk's cells
        return _without_one_like_negatives(*realworld_cell_samples(rng, cells=mnist_digits))
    xs, ys = [], []
    for i in range(count):
        if part == "non-digits":
            kind = synthetic.NON_DIGIT_KINDS[i % len(synthetic.NON_DIGIT_KINDS)]
            sample, label = synthetic.ink_to_input(synthetic.non_digit(kind, rng, mnist_digits)), NOT_A_DIGIT
        elif part == "printed digits":
            label = i % 10
            sample = synthetic.ink_to_input(synthetic.printed_digit(label, rng))
        elif part == "styled digits":
            label = int("1479"[i % 4])
            sample = synthetic.ink_to_input(synthetic.styled_digit(str(label), rng))
        elif part == "slanted digits":
            images, labels = mnist_digits
            pick = int(rng.integers(len(images)))
            label = int(labels[pick])
            sample = synthetic.ink_to_input(synthetic.pen_width(synthetic.slanted_digit(images[pick], rng), rng))
        else:
            if part == "cell scenes":
                scene = synthetic.cell_scene(rng, mnist_digits, CELL_CONTENTS[i % len(CELL_CONTENTS)])
            else:
                scene = synthetic.amount_scene(rng, mnist_digits)
            x, y = synthetic.pipeline_samples(*scene, rng)
            xs.append(x)
            ys.append(y)
            continue
        if sample is not None:
            xs.append(sample[None])
            ys.append([label])
    if not xs:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
    return _without_one_like_negatives(np.concatenate(xs), np.concatenate(ys).astype(np.uint8))


def _without_one_like_negatives(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop "not a digit" samples that are bars near vertical (``synthetic.one_like``): to the network they are 1s.

    Scenes make them (a grid line's remains in a cell, a slash between digits); taught as negatives they
    made real 1s "not a digit" (49 of USPS's 264 1s with the first 11-class model).
    """
    import synthetic

    keep = np.array([label != NOT_A_DIGIT or not synthetic.one_like(image / 255.0) for image, label in zip(x, y)],
                    bool)
    return x[keep], y[keep]


def extra_training_set(mnist_digits, scale: float = 1.0, seed: int = SEED, workers: int | None = None,
                       realworld: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Make the training images MNIST lacks: (x uint8 (N, 28, 28), ink = 255; y uint8 (N,), 10 = not a digit).

    ``mnist_digits``: (images, labels) of MNIST's training split (partial digits and handwritten scenes are
    made from them; never from the test set). ``scale`` multiplies ``EXTRA_COUNTS``. Scenes go through the
    request path's own segmentation (``synthetic.pipeline_samples``). With ``realworld``, the trainable
    real set ``sudoku_cells_train`` is added (``realworld_cell_samples``) when present. Work is split into
    seeded chunks over ``workers`` processes (default: the CPU count), so the result depends on the seed only.
    """
    import multiprocessing

    jobs = []
    for p, (part, base) in enumerate(EXTRA_COUNTS.items()):
        count = max(1, round(base * scale))
        chunk = max(1, min(500, count))
        for c, start in enumerate(range(0, count, chunk)):
            jobs.append((part, min(chunk, count - start), seed * 1000 + p * 100_000 + c, mnist_digits))
    if realworld:
        try:
            from datasets import load_realworld

            images, labels, _ = load_realworld("sudoku_cells_train")
            keep = max(1, round(len(images) * min(1.0, scale)))  # a small scale (a test) takes a few cells
            images, labels = images[:keep], labels[:keep]
            for c, start in enumerate(range(0, len(images), 250)):
                cells = (images[start: start + 250], labels[start: start + 250])
                jobs.append(("sudoku_cells_train", len(cells[0]), seed * 1000 + 900_000 + c, cells))
        except FileNotFoundError:
            print("sudoku_cells_train not found: training without it", file=sys.stderr)
    workers = workers or os.cpu_count() or 1
    total = sum(j[1] for j in jobs)
    results, done = [], 0
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result, job in zip(pool.imap(_extra_chunk, jobs), jobs):
                results.append(result)
                done += job[1]
                print(f"\rextra training set: {done:,}/{total:,} items", end="", file=sys.stderr, flush=True)
    else:
        for job in jobs:
            results.append(_extra_chunk(job))
            done += job[1]
            print(f"\rextra training set: {done:,}/{total:,} items", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def realworld_cell_samples(rng: np.random.Generator, data_dir=None, cells=None,
                           rephotos: int = CELL_REPHOTOS) -> tuple[np.ndarray, np.ndarray]:
    """Samples from ``sudoku_cells_train`` (real phone photos, trainable) as the pipeline sees them.

    Each cell is read as it is and ``rephotos`` more times as ``synthetic.rephotograph`` cuts and exposes
    it again. Blank cells: every span the segmentation proposes is "not a digit" (up to 3 a cell).
    Candidates cells are left out: their spans are small pencil digits of unknown value, well-formed digits
    once normalised, which taught as "not a digit" made real digits "not a digit". Digit cells: the span
    with the most ink whose centre lies in the cell's middle 70% is the digit; up to two spans that do not
    overlap it (the grid lines' remains) are "not a digit".
    ``cells``: (image bytes, labels) of some of its cells, instead of the whole set from ``data_dir``.
    Returns (x uint8 (N, 28, 28), y uint8 (N,)). Raises FileNotFoundError when the set is absent.
    """
    import synthetic
    from datasets import load_realworld
    from recognizer.decode import PreprocessingError, decode_image
    from recognizer.segment import segment

    images, labels = cells if cells is not None else load_realworld("sudoku_cells_train", data_dir)[:2]
    shots = list(zip(images, labels))
    shots += [(synthetic.rephotograph(data, rng), label) for data, label in shots for _ in range(rephotos)]
    xs, ys = [], []
    for data, label in shots:
        if label == "candidates":
            continue
        try:
            segmentation = segment(decode_image(data))
        except PreprocessingError:
            continue
        rendered = [(span, segmentation.render(*span)) for span in segmentation.spans()]
        height, width = segmentation.shape
        chosen = []
        if label.isdigit():
            def central(digit):
                x, y, w, h = digit.box
                return abs(x + w / 2 - width / 2) < 0.35 * width and abs(y + h / 2 - height / 2) < 0.35 * height
            candidates = [(float(d.image.sum()), span, d) for span, d in rendered if central(d)]
            if not candidates:
                continue
            _, best_span, best = max(candidates, key=lambda c: c[0])
            chosen.append((best.image, int(label)))
            others = [d for span, d in rendered if span[1] < best_span[0] or span[0] > best_span[1]]
        else:
            others = [d for _, d in rendered]
        for i in rng.permutation(len(others))[:3 if not label.isdigit() else 2]:
            chosen.append((others[i].image, NOT_A_DIGIT))
        for image, target in chosen:
            xs.append(np.round(image * 255).astype(np.uint8))
            ys.append(target)
    if not xs:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.uint8)
    return np.stack(xs), np.array(ys, np.uint8)


# --------------------------------------------------------------------------------------------
# Training, evaluation, conversion
# --------------------------------------------------------------------------------------------


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
    Raises ValueError when that model's input or output shape is not the contract's (``INPUT_SHAPE``, 11).
    """
    import keras

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    if train_limit:
        order = order[:train_limit]
    validation_size = min(validation_size, len(order) // 5)
    val_idx, fit_idx = order[:validation_size], order[validation_size:]
    x_fit, y_fit = x_train[fit_idx], y_train[fit_idx]
    x_val, y_val = x_train[val_idx], y_train[val_idx]
    extra_count = 0
    if extra_scale:
        cache = Path(extra_cache) if extra_cache else None
        if cache and cache.is_file():
            with np.load(cache) as stored:
                x_extra, y_extra = stored["x"], stored["y"]
        else:
            x_extra, y_extra = extra_training_set((x_fit, y_fit), extra_scale, seed)
            if cache:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(cache, x=x_extra, y=y_extra)
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
    trainer = keras.Sequential([keras.Input(shape=INPUT_SHAPE), augmentation_layer(seed), model], name="trainer")
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch, alpha=0.01)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    fit = trainer.fit(
        to_model_input(x_fit), y_fit,
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
    _convert_if_possible(keras_path, tflite_path)
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
        "keras_backend": keras.backend.backend(),
        "training_seconds": round(seconds, 1),
    }
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(model, history, test_accuracy, seconds, keras_path, tflite_path)


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
        raise ValueError(f"{path} maps {model.input_shape} to {model.output_shape}, not {(None, *INPUT_SHAPE)} to "
                         f"{(None, NUM_CLASSES)}: train it anew with `python model.py train`.")
    return model


def load_extra_data(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load training images from an .npz written by ``flask --app app corrections export``.

    Returns its ``images`` uint8 (N, 28, 28), ink = 255 (MNIST polarity), and ``labels`` uint8 (N,):
    0..9, or 10 for "not a digit". Raises ValueError when the file lacks them or they disagree.
    """
    with np.load(path) as data:
        if "images" not in data or "labels" not in data:
            raise ValueError(f"{path} has no 'images' and 'labels' arrays: write it with `flask --app app corrections export`.")
        images, labels = data["images"].astype(np.uint8), data["labels"].astype(np.uint8)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) != len(labels) or (labels > 10).any():
        raise ValueError(f"{path}: images {images.shape} and labels {labels.shape} are not (N, 28, 28) and (N,) 0..10.")
    return images, labels


def predict_digits(net, images: np.ndarray) -> np.ndarray:
    """Return the most probable digit (0..9, the "not a digit" column ignored) of uint8 (N, 28, 28) images."""
    probabilities = np.asarray(net.predict(to_model_input(images), batch_size=1000, verbose=0))
    return probabilities[:, :NOT_A_DIGIT].argmax(axis=1)


def train_ensemble(members: int = MEMBERS, output_dir: str | os.PathLike = ROOT, seed: int = SEED,
                   data_dir=None, **options) -> TrainResult:
    """Train ``members`` CNNs from seeds ``seed``, ``seed + 1``, ... and save their average.

    Each member is trained by ``train`` (``options`` are its keyword arguments) into
    ``output_dir/members/seed-N``; the ensemble (``build_ensemble``) is saved as ``mnist_cnn.h5`` and
    ``mnist_cnn.tflite`` in ``output_dir`` with ``training_history.json`` holding every member's
    history. With one member, this is ``train`` itself.
    """
    if members == 1:
        return train(data_dir, output_dir, seed=seed, **options)
    output_dir = Path(output_dir)
    results = [train(data_dir, output_dir / "members" / f"seed-{seed + i}", seed=seed + i, **options)
               for i in range(members)]
    return combine([r.keras_path for r in results], output_dir, data_dir, options.get("test_limit"),
                   seconds=sum(r.seconds for r in results))


def combine(member_paths: list, output_dir: str | os.PathLike = ROOT, data_dir=None,
            test_limit: int | None = None, seconds: float | None = None) -> TrainResult:
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
    _convert_if_possible(keras_path, tflite_path)
    records = [json.loads((Path(p).parent / HISTORY_FILENAME).read_text()) for p in member_paths]
    seconds = seconds if seconds is not None else sum(r["training_seconds"] for r in records)
    record = {"members": records, "test_accuracy": test_accuracy, "test_images": test_images,
              "training_seconds": round(seconds, 1)}
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(ensemble, records[0]["history"], test_accuracy, seconds, keras_path, tflite_path)


def _convert_if_possible(keras_path: Path, tflite_path: Path) -> None:
    """Convert to LiteRT where TensorFlow is installed; elsewhere (a JAX GPU machine) say how to later."""
    try:
        convert_to_tflite(keras_path, tflite_path)
    except ImportError:
        print(f"TensorFlow is not installed: run `python model.py convert --model {keras_path}` where it is",
              file=sys.stderr)


def convert_to_tflite(keras_path: str | os.PathLike = KERAS_MODEL_PATH,
                      tflite_path: str | os.PathLike = TFLITE_MODEL_PATH) -> Path:
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


def mnist_test_accuracy(net, data_dir=None, limit: int | None = None) -> tuple[float, int]:
    """Return a Keras model's accuracy on the MNIST test set (first ``limit`` images) and the image count."""
    _, (x_test, y_test) = load_mnist(data_dir)
    if limit:
        x_test, y_test = x_test[:limit], y_test[:limit]
    return float(np.mean(predict_digits(net, x_test) == y_test)), len(y_test)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train on MNIST, save the .h5 and .tflite, print test accuracy")
    p_train.add_argument("--epochs", type=int, default=EPOCHS)
    p_train.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p_train.add_argument("--train-limit", type=int, default=None, help="use only this many training images")
    p_train.add_argument("--output-dir", default=str(ROOT))
    p_train.add_argument("--seed", type=int, default=SEED)
    p_train.add_argument("--members", type=int, default=MEMBERS, help="networks to train and average")
    p_train.add_argument("--extra-scale", type=float, default=EXTRA_SCALE,
                         help="size of the extra (non-MNIST) training set, a multiple of EXTRA_COUNTS; 0 = none")
    p_train.add_argument("--extra-cache", default=None, help=".npz to keep the extra set in between runs")
    p_train.add_argument("--verbose", type=int, default=None, help="Keras fit verbosity: 0 silent, 1 progress bar, 2 a line an epoch")
    p_train.add_argument("--extra-data", default=None, help="an .npz from `flask corrections export` to train on too")
    p_train.add_argument("--init", default=None, help="a saved .h5 of this network to go on training from (fine-tune)")
    p_train.add_argument("--learning-rate", type=float, default=LEARNING_RATE,
                         help="the cosine schedule's first learning rate (lower it to fine-tune from --init)")
    p_combine = sub.add_parser("combine", help="average trained member models into mnist_cnn.h5 and .tflite")
    p_combine.add_argument("members", nargs="+", help="member .h5 files (each beside its training_history.json)")
    p_combine.add_argument("--output-dir", default=str(ROOT))
    p_convert = sub.add_parser("convert", help="convert mnist_cnn.h5 to mnist_cnn.tflite")
    p_convert.add_argument("--model", default=str(KERAS_MODEL_PATH))
    p_strings = sub.add_parser("train-strings", help="train the string reader from fresh weights (digit_strings.keras, "
                                                     ".tflite and .json beside it)")
    p_strings.add_argument("--steps", type=int, default=None, help="training steps (default: training.strings.CONFIG)")
    p_strings.add_argument("--synthetic", type=int, default=None, help="synthetic lines to make")
    p_strings.add_argument("--output", default=None, help="the .keras to write (default: digit_strings.keras)")
    p_strings.add_argument("--realworld-dir", default=None, help="folder of orand_car_a_train.npz")
    for p in (p_train,):
        p.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR or ../shared/data/mnist)")
    args = parser.parse_args(argv)

    if args.command == "train":
        result = train_ensemble(args.members, args.output_dir, args.seed, args.data_dir, epochs=args.epochs,
                                batch_size=args.batch_size, train_limit=args.train_limit,
                                extra_scale=args.extra_scale, extra_cache=args.extra_cache,
                                verbose="auto" if args.verbose is None else args.verbose,
                                extra_data=args.extra_data, init_model=args.init,
                                learning_rate=args.learning_rate)
        print(f"MNIST test accuracy: {result.test_accuracy:.4%} ({args.members} member(s), {args.epochs} epochs "
              f"each, {result.seconds / 60:.1f} min); wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "combine":
        result = combine(args.members, args.output_dir)
        print(f"MNIST test accuracy of the average of {len(args.members)}: {result.test_accuracy:.4%}; "
              f"wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "convert":
        path = convert_to_tflite(args.model, Path(args.model).with_suffix(".tflite"))
        print(f"wrote {path}")
    elif args.command == "train-strings":
        from training import strings

        overrides = {k: v for k, v in (("steps", args.steps), ("synthetic", args.synthetic)) if v is not None}
        output = Path(args.output) if args.output else strings.STRING_KERAS_PATH
        strings.train_strings(output, overrides, data_dir=args.realworld_dir, log=lambda m: print(m, flush=True))
        record = strings.choose_threshold(output, args.realworld_dir)
        print(f"held-out real amounts: {record['holdout_exact']:.1%} exact; threshold {record['threshold']:.3f} "
              f"reads {record['holdout_read_rate']:.1%} at <= 1% error")
        print(f"wrote {strings.convert_strings(output, output.with_suffix('.tflite'))}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

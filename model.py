"""The digit network: constants, MNIST data, the Keras CNN, training, evaluation and conversion.

Input contract of every model this module builds or saves:
    (N, 28, 28, 1) float32 in [0, 1], ink = 1 and background = 0 (MNIST polarity).
Output: (N, 10) float32 probabilities (softmax), one column per digit 0..9.

TensorFlow is imported only inside the functions that train, evaluate or convert, so the
server (which runs the converted model with LiteRT) can import the constants from here
without TensorFlow installed.

Command line (see ``python model.py --help``):
    python model.py train [--members 1] [--epochs 30] [--data-dir DIR] [--output-dir DIR] [--extra-data PATH.npz]
    python model.py combine runs/ens/members/seed-*/mnist_cnn.h5   # average members already trained
    python model.py evaluate [--usps] [--numbers] [--photos]
    python model.py convert
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent

# The data contract, in one place.
IMAGE_SIZE = 28  # MNIST images are 28x28 pixels
DIGIT_BOX = 20  # MNIST digits were scaled to fit a 20x20 box (LeCun et al., MNIST page)
NUM_CLASSES = 10
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)

MODEL_NAME = "mnist_cnn"
KERAS_MODEL_PATH = ROOT / f"{MODEL_NAME}.h5"  # source of truth
TFLITE_MODEL_PATH = ROOT / f"{MODEL_NAME}.tflite"  # derived from the .h5 by convert_to_tflite()
HISTORY_FILENAME = "training_history.json"

# Where the data lives: the MNIST_DATA_DIR / USPS_DATA_DIR settings, else the shared folder beside
# the project. Missing MNIST files fall back to keras.datasets.mnist (needs internet).
DEFAULT_MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_USPS_DIR = ROOT.parent / "shared" / "data" / "usps"
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

# Training defaults (the committed model was trained with these; see README "Results").
SEED = 20261121
EPOCHS = 30
BATCH_SIZE = 128
VALIDATION_SIZE = 5_000  # taken from the 60,000 training images, never from the test set
LEARNING_RATE = 2e-3
MEMBERS = 1  # networks averaged in the shipped model (see build_ensemble); seeds SEED, SEED + 1, ...


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one gzip-compressed idx file (the MNIST format) into a uint8 array.

    The format (LeCun, "THE MNIST DATABASE"): a big-endian magic number 0x000008NN, where 08 means
    unsigned bytes and NN the number of dimensions, then NN big-endian uint32 sizes, then the data.
    Returns shape (count,) for labels and (count, rows, cols) for images.
    Raises ValueError when the header is not an idx header of unsigned bytes or the size is wrong.
    """
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an idx header")
    (magic,) = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: magic number {magic:#010x} is not an idx file of unsigned bytes")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, but there are {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the MNIST folder: the argument, else $MNIST_DATA_DIR, else ../shared/data/mnist."""
    return Path(data_dir or os.environ.get("MNIST_DATA_DIR") or DEFAULT_MNIST_DIR)


def load_mnist(data_dir: str | os.PathLike | None = None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``, like keras.datasets.mnist.

    Images are uint8 (N, 28, 28) with 0 = background and 255 = ink; labels uint8 (N,).
    Reads the four idx files from ``mnist_dir(data_dir)``; where any is missing, falls back to
    ``keras.datasets.mnist.load_data()``, which downloads them (and so needs internet access).
    """
    folder = mnist_dir(data_dir)
    paths = {key: folder / name for key, name in MNIST_FILES.items()}
    if all(p.is_file() for p in paths.values()):
        arrays = {key: read_idx(p) for key, p in paths.items()}
        return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    print(f"MNIST files not found in {folder}; downloading with keras.datasets.mnist", file=sys.stderr)
    import keras

    return keras.datasets.mnist.load_data()


def load_usps(data_dir: str | os.PathLike | None = None, split: str = "test"):
    """Load the USPS digits (LeCun et al., 1990) as ``(images, labels)``.

    ``split`` is "test" (2,007 digits) or "train" (7,291). Images are uint8 (N, 16, 16) with
    0 = background and 255 = ink, the digit filling the frame; labels uint8 (N,).
    The folder is the argument, else $USPS_DATA_DIR, else ../shared/data/usps.
    Used only to measure generalisation: never train the shipped model on it.
    Raises FileNotFoundError when the file is absent (there is no download fallback).
    """
    folder = Path(data_dir or os.environ.get("USPS_DATA_DIR") or DEFAULT_USPS_DIR)
    with gzip.open(folder / f"zip.{split}.gz", "rt") as f:
        table = np.loadtxt(f, dtype=np.float32)
    labels = table[:, 0].astype(np.uint8)
    # Pixels are in [-1, 1] with -1 = background: map to MNIST's 0..255, ink = 255.
    images = np.round((table[:, 1:] + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    return images.reshape(-1, 16, 16), labels


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


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Turn uint8 (N, 28, 28) images, ink = 255, into the model's (N, 28, 28, 1) float32 in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def build_model():
    """Build the CNN (uncompiled): input (N, 28, 28, 1) float32 in [0, 1], output (N, 10) probabilities.

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
            layers.Dense(NUM_CLASSES, activation="softmax"),  # (B, 10) probabilities
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


def augment(images):
    """Randomly distort a batch the way real drawings differ from MNIST; a TensorFlow op.

    ``images``: (B, 28, 28, 1) float32 in [0, 1], ink = 1. Returns the same shape and range.
    - Stroke thickness: a quarter of the batch is dilated with a 3x3 cross (thicker pen), a tenth
      eroded with a 2x2 square (thinner pen), as canvas strokes are rarely MNIST's width.
    - One random affine map per image about the centre: rotation within +-12 degrees, shear
      within +-0.15, scale 0.9-1.1 per axis, shift within +-2 px (the digit stays centred by mass
      in serving, so shifts are small).
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    uniform = tf.random.uniform  # seeded by keras.utils.set_random_seed in train()

    # Stroke thickness (grey-scale morphology).
    cross = tf.constant([[-1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [-1.0, 0.0, -1.0]])[..., None] * 1e3
    thicker = tf.nn.dilation2d(images, cross, strides=[1, 1, 1, 1], padding="SAME",
                               data_format="NHWC", dilations=[1, 1, 1, 1])
    thinner = tf.nn.erosion2d(images, tf.zeros([2, 2, 1]), strides=[1, 1, 1, 1], padding="SAME",
                              data_format="NHWC", dilations=[1, 1, 1, 1])
    pick = uniform([batch, 1, 1, 1])
    images = tf.where(pick < 0.25, thicker, tf.where(pick < 0.35, thinner, images))

    # Affine map from output to input coordinates, about the image centre.
    angle = uniform([batch], -12.0, 12.0) * (np.pi / 180.0)
    shear = uniform([batch], -0.15, 0.15)
    scale_x = uniform([batch], 0.9, 1.1)
    scale_y = uniform([batch], 0.9, 1.1)
    shift = uniform([batch, 2], -2.0, 2.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Inverse of (rotate . shear . scale): map each output pixel back to where it samples from.
    a0 = cos / scale_x
    a1 = (sin + shear * cos) / scale_x
    b0 = -sin / scale_y
    b1 = (cos - shear * sin) / scale_y
    centre = (IMAGE_SIZE - 1) / 2.0
    a2 = centre - a0 * centre - a1 * centre - shift[:, 0]
    b2 = centre - b0 * centre - b1 * centre - shift[:, 1]
    zeros = tf.zeros([batch])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[IMAGE_SIZE, IMAGE_SIZE],
        interpolation="BILINEAR", fill_mode="CONSTANT", fill_value=0.0,
    )
    return tf.clip_by_value(images, 0.0, 1.0)


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
    verbose="auto",
    extra_data: str | os.PathLike | None = None,
) -> TrainResult:
    """Train the CNN on MNIST's training images and save ``mnist_cnn.h5`` and ``mnist_cnn.tflite``.

    ``validation_size`` images are held out of the (optionally ``train_limit``-sized) training set;
    the test set is only used for the final score, on ``test_limit`` images or all 10,000.
    The learning rate follows a cosine decay from ``LEARNING_RATE`` over all steps (Adam).
    ``verbose`` is passed to ``keras.Model.fit`` ("auto" shows a progress bar per epoch).
    ``extra_data``: an .npz of corrections (``load_extra_data``) added to the training images only,
    never to the validation or test sets.
    Writes the two model files and ``training_history.json`` into ``output_dir``; returns a TrainResult.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    if train_limit:
        order = order[:train_limit]
    validation_size = min(validation_size, len(order) // 5)
    val_idx, fit_idx = order[:validation_size], order[validation_size:]
    x_fit, y_fit = to_model_input(x_train[fit_idx]), y_train[fit_idx]
    x_val, y_val = to_model_input(x_train[val_idx]), y_train[val_idx]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    extra_images = 0
    if extra_data is not None:
        x_extra, y_extra = load_extra_data(extra_data)
        keep = y_extra < NUM_CLASSES  # 10 = not a digit: this 10-class network has no class for it
        if not keep.all():
            print(f"--extra-data: skipped {int((~keep).sum())} 'not a digit' images (the model has 10 classes)")
        x_fit = np.concatenate([x_fit, to_model_input(x_extra[keep])])
        y_fit = np.concatenate([y_fit, y_extra[keep]])
        extra_images = int(keep.sum())

    steps_per_epoch = int(np.ceil(len(x_fit) / batch_size))
    fit_data = (
        tf.data.Dataset.from_tensor_slices((x_fit, y_fit))
        .shuffle(len(x_fit), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )

    model = build_model()
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, epochs * steps_per_epoch, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    fit = model.fit(
        fit_data,
        epochs=epochs,
        validation_data=(x_val, y_val) if validation_size else None,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    _, test_accuracy = model.evaluate(to_model_input(x_test), y_test, verbose=0)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras_path = output_dir / KERAS_MODEL_PATH.name
    tflite_path = output_dir / TFLITE_MODEL_PATH.name
    model.save(keras_path, include_optimizer=False)
    convert_to_tflite(keras_path, tflite_path)
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    record = {
        "history": history,
        "test_accuracy": float(test_accuracy),
        "test_images": int(len(x_test)),
        "train_images": int(len(x_fit)),
        "extra_images": extra_images,
        "validation_images": int(len(x_val)),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "training_seconds": round(seconds, 1),
    }
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(model, history, float(test_accuracy), seconds, keras_path, tflite_path)


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
    convert_to_tflite(keras_path, tflite_path)
    records = [json.loads((Path(p).parent / HISTORY_FILENAME).read_text()) for p in member_paths]
    seconds = seconds if seconds is not None else sum(r["training_seconds"] for r in records)
    record = {"members": records, "test_accuracy": test_accuracy, "test_images": test_images,
              "training_seconds": round(seconds, 1)}
    (output_dir / HISTORY_FILENAME).write_text(json.dumps(record, indent=1) + "\n")
    return TrainResult(ensemble, records[0]["history"], test_accuracy, seconds, keras_path, tflite_path)


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


def mnist_test_accuracy(net, data_dir=None, limit: int | None = None, verbose=0) -> tuple[float, int]:
    """Return a Keras model's accuracy on the MNIST test set (first ``limit`` images) and the image count."""
    _, (x_test, y_test) = load_mnist(data_dir)
    if limit:
        x_test, y_test = x_test[:limit], y_test[:limit]
    probabilities = net.predict(to_model_input(x_test), batch_size=1000, verbose=verbose)
    return float(np.mean(probabilities.argmax(axis=1) == y_test)), len(y_test)


def evaluate_keras(model_path=KERAS_MODEL_PATH, data_dir=None, limit: int | None = None) -> float:
    """Return the accuracy of a saved Keras model on the MNIST test set (first ``limit`` images)."""
    import keras

    return mnist_test_accuracy(keras.models.load_model(model_path, compile=False), data_dir, limit, "auto")[0]


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
    p_train.add_argument("--extra-data", default=None, help="an .npz from `flask corrections export` to train on too")
    p_combine = sub.add_parser("combine", help="average trained member models into mnist_cnn.h5 and .tflite")
    p_combine.add_argument("members", nargs="+", help="member .h5 files (each beside its training_history.json)")
    p_combine.add_argument("--output-dir", default=str(ROOT))
    p_eval = sub.add_parser("evaluate", help="print MNIST test accuracy (and USPS through the request path)")
    p_eval.add_argument("--model", default=str(KERAS_MODEL_PATH), help="the .h5; the .tflite beside it is used too")
    p_eval.add_argument("--limit", type=int, default=None)
    p_eval.add_argument("--usps", action="store_true", help="also score USPS through the request path")
    p_eval.add_argument("--numbers", action="store_true", help="also score composed multi-digit numbers")
    p_eval.add_argument("--photos", action="store_true", help="also score synthetic photos of digits on paper")
    p_convert = sub.add_parser("convert", help="convert mnist_cnn.h5 to mnist_cnn.tflite")
    p_convert.add_argument("--model", default=str(KERAS_MODEL_PATH))
    for p in (p_train, p_eval):
        p.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DATA_DIR or ../shared/data/mnist)")
    args = parser.parse_args(argv)

    if args.command == "train":
        result = train_ensemble(args.members, args.output_dir, args.seed, args.data_dir, epochs=args.epochs,
                                batch_size=args.batch_size, train_limit=args.train_limit, extra_data=args.extra_data)
        print(f"MNIST test accuracy: {result.test_accuracy:.4%} ({args.members} member(s), {args.epochs} epochs "
              f"each, {result.seconds / 60:.1f} min); wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "combine":
        result = combine(args.members, args.output_dir)
        print(f"MNIST test accuracy of the average of {len(args.members)}: {result.test_accuracy:.4%}; "
              f"wrote {result.keras_path} and {result.tflite_path}")
    elif args.command == "evaluate":
        accuracy = evaluate_keras(args.model, args.data_dir, args.limit)
        print(f"MNIST test accuracy (Keras, {args.model}): {accuracy:.4%}")
        import evaluation
        import inference

        if args.usps or args.numbers or args.photos:  # through the request path, with the converted model
            backend = inference.load_backend("litert", Path(args.model).with_suffix(".tflite"))
        if args.usps:
            print(evaluation.evaluate_usps(backend).format())
        if args.numbers:
            print(evaluation.evaluate_numbers(backend).format())
        if args.photos:
            print(evaluation.evaluate_photos(backend).format())
    elif args.command == "convert":
        path = convert_to_tflite(args.model, Path(args.model).with_suffix(".tflite"))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

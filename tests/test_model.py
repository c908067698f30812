"""The data loader, the committed model on real MNIST test images, backend parity and training."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import datasets
import evaluation
from recognizer import backends, mnist, read
from synth.canvas import canvas_from_mnist, encode
from synth.digits import stroke_digit
from training.digits import train
from training.ensemble import train_ensemble
from training.network import HISTORY_FILENAME


def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips_images_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "images.gz", images)
    write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "images.gz"), images)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "labels.gz"), np.arange(5))


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"\x00\x00\x0d\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match="not an idx file"):
        datasets.read_idx(tmp_path / "bad.gz")


def test_load_mnist_reads_the_shared_files(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_load_mnist_falls_back_to_the_keras_downloader_when_files_are_absent(tmp_path, monkeypatch):
    import keras

    calls = []
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: calls.append(1) or "downloaded")
    assert datasets.load_mnist(tmp_path) == "downloaded"
    assert calls == [1]


def test_the_data_folder_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    assert datasets.mnist_dir() == tmp_path
    assert datasets.mnist_dir("/elsewhere").as_posix() == "/elsewhere"


def test_usps_loads_with_ink_as_255():
    images, labels = datasets.load_usps()
    assert images.shape == (2007, 16, 16) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
    assert np.median(images) < 30  # mostly background, which is 0


def test_the_committed_keras_model_scores_at_least_99_5_percent_on_mnist_test():
    import keras

    net = keras.models.load_model(mnist.KERAS_MODEL_PATH, compile=False)
    assert tuple(net.input_shape) == (None, 28, 28, 1)
    assert tuple(net.output_shape) == (None, mnist.NUM_CLASSES)
    _, (x_test, y_test) = datasets.load_mnist()
    probabilities = net.predict(datasets.to_model_input(x_test), batch_size=1000, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The committed model reads 99.62% (README, Results; issue 8's target, held here with a margin of 10 digits for
    # float differences between machines), and calls at most 1% of them "not a digit" as the request path
    # decides it (read.SKIP_COST).
    digits, not_digit = probabilities[:, : mnist.NOT_A_DIGIT], probabilities[:, mnist.NOT_A_DIGIT]
    assert np.mean(digits.argmax(axis=1) == y_test) >= 0.995
    skipped = np.log(digits.max(axis=1)) < np.log(np.maximum(not_digit, 1e-12)) + np.log(read.SKIP_COST)
    assert np.mean(skipped) <= 0.01


def test_litert_and_keras_backends_agree_within_1e_4(mnist_test):
    keras_model = backends.load_backend("keras")
    float32 = backends.load_backend("litert", cascade=False)  # the float32 file alone: the .h5's conversion
    assert isinstance(float32, backends.LiteRTBackend)
    batch = datasets.to_model_input(mnist_test[0][:200])
    np.testing.assert_allclose(float32.predict(batch), keras_model.predict(batch), atol=1e-4)


def test_the_server_reads_with_the_little_network_first_and_its_answers_are_the_float_networks(
    litert_model, mnist_test
):
    assert isinstance(litert_model, backends.CascadeBackend)
    assert litert_model.little.path == mnist.LITTLE_MODEL_PATH
    float32 = backends.load_backend("litert", cascade=False)
    # MNIST test digits, the same digits cut off, blotted and as noise: inputs the network is sure and unsure of.
    rng = np.random.default_rng(5)
    digits = datasets.to_model_input(mnist_test[0][:300])
    cut = digits.copy()
    cut[:, :, 14:] = 0
    blotted = np.clip(digits + (rng.random(digits.shape) < 0.08), 0, 1).astype(np.float32)
    noise = (rng.random((100, 28, 28, 1)) < 0.2).astype(np.float32)
    batch = np.concatenate([digits, cut, blotted, noise])
    size = backends.CASCADE_MAX_BATCH  # as a drawing's spans come: a few at a time
    served = np.concatenate([litert_model.predict(batch[i : i + size]) for i in range(0, len(batch), size)])
    reference = float32.predict(batch)
    unsure = litert_model.little.predict(batch).max(axis=1) < backends.CASCADE_THRESHOLD
    assert 0.02 < unsure.mean() < 0.5  # both networks are exercised
    np.testing.assert_array_equal(served[unsure], reference[unsure])  # read again by the float32 network
    np.testing.assert_allclose(served, reference, atol=0.005)  # a bar of the page moves by at most half a point
    assert np.array_equal(served.argmax(axis=1), reference.argmax(axis=1))
    # No answer crosses the page's low_confidence threshold (read.LOW_CONFIDENCE_THRESHOLD).
    low = read.LOW_CONFIDENCE_THRESHOLD
    assert np.array_equal(served.max(axis=1) < low, reference.max(axis=1) < low)


class FixedModel:
    """A backend that answers the same row of probabilities for every input, and counts the rows it read."""

    def __init__(self, row, name="fixed"):
        self.row, self.name, self.path, self.rows = np.asarray(row, np.float32), name, f"{name}.tflite", 0

    def predict(self, batch):
        self.rows += len(batch)
        return np.tile(self.row, (len(batch), 1))


def test_a_cascade_reads_again_only_the_rows_its_little_network_is_unsure_of():
    sure, unsure, nan = np.eye(11)[3] * 0.995 + 0.0005, np.full(11, 1 / 11), np.full(11, np.nan)
    big = FixedModel(np.eye(11)[7], "big")
    for little_row, read_again in ((sure, 0), (unsure, 4), (nan, 4)):
        little = FixedModel(little_row, "little")
        big.rows = 0
        served = backends.CascadeBackend(little, big).predict(np.zeros((4, 28, 28, 1), np.float32))
        assert big.rows == read_again and little.rows == 4
        assert served.argmax(axis=1).tolist() == [7 if read_again else 3] * 4
    little, big = FixedModel(sure, "little"), FixedModel(np.eye(11)[7], "big")
    large = backends.CascadeBackend(little, big).predict(np.zeros((backends.CASCADE_MAX_BATCH + 1, 28, 28, 1)))
    assert little.rows == 0 and big.rows == len(large)  # a large batch (a number's spans): the float32 network alone


def test_without_its_little_file_a_model_is_served_alone(tmp_path):
    path = tmp_path / "mnist_cnn.tflite"
    path.write_bytes(mnist.TFLITE_MODEL_PATH.read_bytes())
    assert isinstance(backends.load_backend("litert", path), backends.LiteRTBackend)
    (tmp_path / "mnist_cnn_int8.tflite").write_bytes(mnist.LITTLE_MODEL_PATH.read_bytes())
    assert isinstance(backends.load_backend("litert", path), backends.CascadeBackend)
    assert isinstance(backends.load_backend("litert", path, cascade=False), backends.LiteRTBackend)


def test_a_corrupt_little_file_stops_the_start_with_its_name(tmp_path):
    path = tmp_path / "mnist_cnn.tflite"
    path.write_bytes(mnist.TFLITE_MODEL_PATH.read_bytes())
    (tmp_path / "mnist_cnn_int8.tflite").write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(backends.ModelLoadError, match="mnist_cnn_int8.tflite.*python model.py"):
        backends.load_backend("litert", path)


def test_a_little_file_left_beside_another_network_stops_the_start(tmp_path):
    # A retrained float32 file copied over the served one, the old int8 file left beside it: every sure answer would
    # be the old network's. Another network stands in here: the served one with its output kernels zeroed.
    from model_files import zeroed_tflite

    path = zeroed_tflite(tmp_path / "mnist_cnn.tflite")
    (tmp_path / "mnist_cnn_int8.tflite").write_bytes(mnist.LITTLE_MODEL_PATH.read_bytes())
    with pytest.raises(backends.ModelLoadError, match="not the int8 conversion of mnist_cnn.tflite.*model.py convert"):
        backends.load_backend("litert", path)
    float32 = backends.load_backend("litert", cascade=False)
    assert backends.twin_problem(backends.LiteRTBackend(mnist.LITTLE_MODEL_PATH), float32) is None


def test_the_committed_little_file_is_the_int8_conversion_of_the_committed_h5(tmp_path, mnist_test):
    from training.convert import convert_to_int8_weights

    converted = backends.LiteRTBackend(convert_to_int8_weights(mnist.KERAS_MODEL_PATH, tmp_path / "little.tflite"))
    committed = backends.LiteRTBackend(mnist.LITTLE_MODEL_PATH)
    batch = datasets.to_model_input(mnist_test[0][:100])
    np.testing.assert_allclose(converted.predict(batch), committed.predict(batch), atol=1e-6)


def test_litert_reads_mnist_test_images_one_at_a_time_as_the_server_does(litert_model, mnist_test):
    images, labels = mnist_test
    batch = datasets.to_model_input(images[:300])
    answers = [int(litert_model.predict(batch[i : i + 1])[0, : mnist.NOT_A_DIGIT].argmax()) for i in range(len(batch))]
    assert np.mean(np.array(answers) == labels[:300]) >= 0.99


def test_mnist_digits_drawn_on_a_canvas_are_read_through_the_request_path(litert_model, mnist_test):
    images, labels = mnist_test
    picks = range(1000, 1200)
    correct = [
        read.predict_image(encode(canvas_from_mnist(images[i], box=(40, 30, 160))), litert_model).digit == labels[i]
        for i in picks
    ]
    assert np.mean(correct) >= 0.98


@pytest.mark.parametrize("digit", [0, 1, 4, 7])
@pytest.mark.parametrize("width", [8, 18, 30])
def test_stroke_drawn_digits_are_read(litert_model, digit, width):
    assert read.predict_image(encode(stroke_digit(digit, width=width)), litert_model).digit == digit


@pytest.mark.parametrize("box", [(10, 10, 60), (200, 190, 70), (20, 20, 240)], ids=["tiny corner", "corner", "huge"])
def test_small_and_large_drawings_anywhere_on_the_canvas_are_read(litert_model, box):
    for digit in (1, 4, 7):
        width = max(4, box[2] // 9)
        assert read.predict_image(encode(stroke_digit(digit, width=width, box=box)), litert_model).digit == digit


def test_usps_through_the_request_path_is_reported(litert_model):
    report = evaluation.evaluate_usps(litert_model, limit=300)
    assert report.count == 300 and report.refused == 0
    assert report.accuracy >= 0.96  # 99.7% of these 300, 98.36% of 2,007 (README, Results)
    assert "USPS" in report.format()


@pytest.mark.parametrize("content", [None, b"", b"not a flatbuffer at all" * 10], ids=["missing", "empty", "garbage"])
def test_a_missing_or_corrupt_model_stops_with_the_file_and_the_fix(tmp_path, content):
    path = tmp_path / "mnist_cnn.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(backends.ModelLoadError) as error:
        backends.load_backend("litert", path)
    assert str(path) in str(error.value) and "python model.py" in str(error.value)


def test_an_unknown_backend_is_refused():
    with pytest.raises(backends.ModelLoadError, match="MODEL_BACKEND"):
        backends.load_backend("pytorch")


@pytest.mark.slow
def test_training_a_small_two_member_ensemble_writes_both_models_and_the_history(tmp_path, mnist_test):
    before = mnist.KERAS_MODEL_PATH.stat().st_mtime_ns
    result = train_ensemble(
        2,
        tmp_path,
        epochs=2,
        train_limit=3000,
        test_limit=500,
        verbose=0,
        extra_scale=0.002,
        extra_cache=tmp_path / "extra.npz",
    )
    assert result.keras_path == tmp_path / "mnist_cnn.h5" and result.keras_path.is_file()
    assert result.tflite_path.is_file() and mnist.little_model_path(result.tflite_path).is_file()
    record = json.loads((tmp_path / HISTORY_FILENAME).read_text())
    assert len(record["members"]) == 2 and record["test_images"] == 500
    for member in record["members"]:
        # 3,000 MNIST images plus the extra set, a tenth of which is held out for validation too
        assert member["train_images"] + member["validation_images"] == 3000 + member["extra_images"]
        assert len(member["history"]["loss"]) == 2
        assert member["history"]["loss"][1] < member["history"]["loss"][0]
    assert record["members"][0]["seed"] != record["members"][1]["seed"]
    # The saved ensemble loads with Keras alone, and its conversion serves the same probabilities.
    import keras

    saved = keras.models.load_model(result.keras_path, compile=False)
    batch = datasets.to_model_input(mnist_test[0][:50])
    converted = backends.load_backend("litert", result.tflite_path, cascade=False)
    np.testing.assert_allclose(converted.predict(batch), saved.predict(batch, verbose=0), atol=1e-4)
    assert mnist.KERAS_MODEL_PATH.stat().st_mtime_ns == before  # the committed model is untouched


@pytest.mark.slow
def test_fine_tuning_starts_from_the_saved_network_and_leaves_it_untouched(tmp_path):
    # One epoch on 1,000 images at a low rate: a fresh network would read MNIST far worse than the saved one.
    before = mnist.KERAS_MODEL_PATH.stat().st_mtime_ns
    result = train(
        output_dir=tmp_path,
        epochs=1,
        train_limit=1000,
        test_limit=500,
        verbose=0,
        extra_scale=0.001,
        init_model=mnist.KERAS_MODEL_PATH,
        learning_rate=1e-4,
    )
    assert result.test_accuracy >= 0.98
    record = json.loads((tmp_path / HISTORY_FILENAME).read_text())
    assert record["init_model"] == str(mnist.KERAS_MODEL_PATH) and record["learning_rate"] == 1e-4
    # How the starting network was trained is kept with it: the whole chain of runs stays known.
    assert record["init_record"] == json.loads((mnist.KERAS_MODEL_PATH.parent / HISTORY_FILENAME).read_text())
    assert mnist.KERAS_MODEL_PATH.stat().st_mtime_ns == before


@pytest.mark.slow
def test_one_command_rebuilds_the_digit_network_from_fresh_weights_and_writes_its_provenance(tmp_path):
    # The shipped recipe on a sample: two members from fresh weights, their average, the average fine-tuned.
    command = [
        sys.executable,
        "model.py",
        "rebuild",
        "--output-dir",
        str(tmp_path / "net"),
        "--work-dir",
        str(tmp_path / "work"),
        "--members",
        "2",
        "--member-epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--extra-scale",
        "0.002",
        "--train-limit",
        "1500",
        "--verbose",
        "0",
    ]
    done = subprocess.run(command, cwd=mnist.ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MNIST test accuracy" in done.stdout
    record = json.loads((tmp_path / "net" / HISTORY_FILENAME).read_text())
    provenance = record["provenance"]
    assert provenance["command"].endswith(" ".join(command[1:]))
    assert (tmp_path / "net" / "run_command.txt").read_text().strip() == provenance["command"]
    assert re.fullmatch(r"[0-9a-f]{40}( and uncommitted changes)?", provenance["commit"])
    assert provenance["recipe"]["member_epochs"] == 1
    # Every file the run read is named with its digest: MNIST's four files and the three extra sets.
    hashed = provenance["data_sha256"]
    extra_sets = sorted((tmp_path / "work").glob("extra-*.npz"))
    assert len(extra_sets) == 3
    for path in [*extra_sets, *datasets.mnist_dir().glob("*-ubyte.gz")]:
        assert hashed[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    # The chain is in the record: the fine-tuning started from the average of two members of their own seeds.
    assert record["init_model"] == str(tmp_path / "work" / "average" / "mnist_cnn.h5")
    members = record["init_record"]["members"]
    assert len(members) == 2 and members[0]["seed"] != members[1]["seed"] and members[0]["init_model"] is None
    # The network it wrote is served as it is: the LiteRT conversion gives Keras' probabilities.
    import keras

    saved = keras.models.load_model(tmp_path / "net" / "mnist_cnn.h5", compile=False)
    batch = datasets.to_model_input(datasets.load_mnist()[1][0][:20])
    converted = backends.load_backend("litert", tmp_path / "net" / "mnist_cnn.tflite", cascade=False)
    np.testing.assert_allclose(converted.predict(batch), saved.predict(batch, verbose=0), atol=1e-4)


def test_fine_tuning_refuses_a_network_of_another_shape(tmp_path):
    import keras

    ten_classes = keras.Sequential(
        [keras.Input(shape=mnist.INPUT_SHAPE), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    ten_classes.save(tmp_path / "ten.h5")
    with pytest.raises(ValueError, match="train it anew"):
        train(output_dir=tmp_path / "out", epochs=1, train_limit=100, extra_scale=0, init_model=tmp_path / "ten.h5")


@pytest.mark.slow
def test_one_network_is_taught_the_answers_of_the_two_member_average(tmp_path):
    # `model.py distill` on a sample: member 0 of the shipped average, one epoch with the average's probabilities
    # as its targets. What it writes is one network, served as it is, answering as its teacher does.
    import keras

    command = [sys.executable, "model.py", "distill", "--output-dir", str(tmp_path / "net"), "--work-dir"]
    command += [str(tmp_path / "work"), "--epochs", "1", "--train-limit", "1500", "--extra-scale", "0.002"]
    done = subprocess.run([*command, "--verbose", "0"], cwd=mnist.ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((tmp_path / "net" / HISTORY_FILENAME).read_text())
    assert record["teacher"] == str(mnist.KERAS_MODEL_PATH)
    assert record["teacher_record"] == json.loads((mnist.KERAS_MODEL_PATH.parent / HISTORY_FILENAME).read_text())
    assert record["init_model"] == str(tmp_path / "work" / "member-0" / "mnist_cnn.h5")
    teacher = keras.models.load_model(mnist.KERAS_MODEL_PATH, compile=False)
    student = keras.models.load_model(tmp_path / "net" / "mnist_cnn.h5", compile=False)
    assert student.output_shape == (None, mnist.NUM_CLASSES)
    assert student.count_params() * 2 == teacher.count_params()  # one member's network, half the average's cost
    images = datasets.to_model_input(datasets.load_mnist()[1][0][:300])
    agree = student.predict(images, verbose=0).argmax(axis=1) == teacher.predict(images, verbose=0).argmax(axis=1)
    assert agree.mean() >= 0.98
    converted = backends.load_backend("litert", tmp_path / "net" / "mnist_cnn.tflite", cascade=False)
    np.testing.assert_allclose(converted.predict(images[:20]), student.predict(images[:20], verbose=0), atol=1e-4)

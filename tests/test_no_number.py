"""Lines that hold no number (training.no_number) and lines found finer (recognizer.finer): what the string reader is
taught is nothing, which blank cells are kept out to measure on, and a reader served the way it was trained."""

import json
import shutil

import numpy as np
import pytest

from recognizer.decode import PreprocessingError, decode_image
from recognizer.finer import FINE_LINE_HEIGHT, served_line, served_lines
from recognizer.line import LINE_HEIGHT, LINE_STRIDE, find_line
from recognizer.reader import Reader
from recognizer.strings import STRING_MODEL_PATH, load_string_reader
from synth.scenes import cell_scene
from synth.strings import number_images
from training.no_number import empty_lines, held_out_cell
from training.string_data import to_uint8


def small_photo_numbers(mnist_test, count=40):
    """Held-out small photos of numbers (``synth.strings.number_images``, scene "small photo")."""
    return [data for data, _, kind in number_images(count, 4321, mnist_test) if kind == "small photo"]


def test_no_number_lines_are_taught_as_the_empty_text_with_a_finite_ctc_loss(tmp_path):
    import tensorflow as tf

    from training.string_data import batch, encode_text
    from training.string_steps import training_step
    from training.strings import build_string_model

    lines, texts = empty_lines(8, seed=5, finer=True, data_dir=tmp_path)  # no sudoku_cells_train there: scenes only
    assert lines and set(texts) == {""}
    assert all(line.dtype == np.uint8 and line.shape[0] == LINE_HEIGHT for line in lines)
    assert sum(line.max() > 128 for line in lines) >= len(lines) // 2  # each holds a mark's ink, not an empty frame
    # CTC with an empty target is the path of all blanks: a loss the step can take, not inf or nan.
    x, widths = batch(lines, range(len(lines)))
    model = build_string_model()
    step, finish = training_step(model, tf.keras.optimizers.Adam(1e-3))
    targets = np.zeros((len(lines), 1), np.int32)
    frames = (widths // LINE_STRIDE).astype(np.int32)
    loss = float(step(x, targets, np.zeros(len(lines), np.int32), frames, np.zeros(len(lines), bool)))
    finish()
    assert np.isfinite(loss) and loss > 0
    assert encode_text("") == []


def test_half_the_blank_cells_are_kept_out_of_the_no_number_lines(tmp_path):
    # A fake sudoku_cells_train of blank cells and two digit cells: only the blanks not held out give lines.
    rng = np.random.default_rng(11)
    cells = [cell_scene(rng, None, "blank")[0] for _ in range(14)]
    images = [*cells, cells[0][::-1], cells[1][::-1]]  # two "digit" cells (their bytes only matter for the labels)
    labels = ["blank"] * 14 + ["3", "5"]
    offsets = np.cumsum([0] + [len(data) for data in images])
    blob = np.frombuffer(b"".join(images), np.uint8)
    np.savez(tmp_path / "sudoku_cells_train.npz", image=blob, offsets=offsets, label=labels, group=["cell"] * 16)
    held = [held_out_cell(data) for data in cells]
    assert 0 < sum(held) < len(cells)  # about half, by the file's SHA-1: the same on any machine
    assert held == [held_out_cell(bytes(data)) for data in cells]
    lines, texts = empty_lines(0, seed=1, finer=False, data_dir=tmp_path)
    expected = []
    for data, out in zip(cells, held):
        if not out:
            try:
                expected.append(find_line(decode_image(data)).image)
            except PreprocessingError:  # a cell whose crop holds no ink gives no line
                pass
    assert len(lines) >= len(expected) and set(texts) == {""}
    first_lines = {line.tobytes() for line in lines}
    assert all(to_uint8(line).tobytes() in first_lines for line in expected)


def test_a_small_photo_is_found_finer_only_for_a_reader_trained_so(mnist_test):
    photos = small_photo_numbers(mnist_test)
    assert photos
    scaled = 0
    for data in photos:
        grey = decode_image(data)
        image, lines = served_lines(grey, finer=False)
        assert image is grey and served_line(grey, finer=False).box == find_line(grey).box
        fine, fine_lines = served_lines(grey, finer=True)
        if fine is not grey:  # its line was under FINE_LINE_HEIGHT: found again in the image scaled up
            scaled += 1
            factor = fine.shape[0] // grey.shape[0]
            assert 2 <= factor <= 4 and fine.shape[1] == grey.shape[1] * factor
            assert lines[0].box[3] < FINE_LINE_HEIGHT and fine_lines[0].image.shape[0] == LINE_HEIGHT
    assert scaled > 0


def test_a_reader_whose_record_says_finer_reads_through_finer_lines(tmp_path, mnist_test, digit_backend, monkeypatch):
    shipped = load_string_reader()
    assert not shipped.finer  # the shipped reader's record names no config.lines: served as it was trained
    candidate = tmp_path / "digit_strings.tflite"
    shutil.copy(STRING_MODEL_PATH, candidate)
    record = json.loads(STRING_MODEL_PATH.with_suffix(".json").read_text())
    record["config"]["lines"] = "finer"
    candidate.with_suffix(".json").write_text(json.dumps(record))
    finer = load_string_reader(candidate)
    assert finer.finer and finer.threshold == pytest.approx(shipped.threshold)
    import evaluation  # `evaluation.py --strings` measures a candidate as it would be served

    evaluation.string_reader.cache_clear()
    monkeypatch.setenv("STRING_MODEL", str(candidate))
    assert evaluation.as_reader().strings.finer
    monkeypatch.delenv("STRING_MODEL")
    evaluation.string_reader.cache_clear()
    assert not evaluation.as_reader().strings.finer
    for data in small_photo_numbers(mnist_test, 20):
        reading = Reader(digit_backend, finer).read(data, mode="number")
        height, width = decode_image(data).shape  # boxes in the pixels of the image as sent, not the scaled one
        for digit in reading.digits:
            x, y, w, h = digit.box
            assert 0 <= x and 0 <= y and x + w <= width + 1 and y + h <= height + 1


@pytest.fixture(scope="module")
def digit_backend():
    from recognizer.backends import load_backend

    return load_backend()


def test_real_digit_cells_are_composed_into_strings_of_the_cells_not_held_out(tmp_path, mnist_test):
    from training.cell_strings import MAX_DIGITS, MIN_DIGITS, cell_digit, cell_lines

    # A fake sudoku_cells_train of digit cells (synth.scenes.cell_scene, grid lines at the edges), labelled.
    rng = np.random.default_rng(3)
    made = [cell_scene(rng, (mnist_test[0][:500], mnist_test[1][:500]), "digit") for _ in range(16)]
    images, labels = [data for data, _, _ in made], [str(found[0]) for _, _, found in made]
    offsets = np.cumsum([0] + [len(data) for data in images])
    blob = np.frombuffer(b"".join(images), np.uint8)
    np.savez(tmp_path / "sudoku_cells_train.npz", image=blob, offsets=offsets, label=labels, group=["digit"] * 16)
    trained = {label for data, label in zip(images, labels) if not held_out_cell(data)}
    held = {label for data, label in zip(images, labels) if held_out_cell(data)} - trained
    lines, texts = cell_lines(30, seed=2, finer=True, data_dir=tmp_path)
    assert len(lines) >= 25  # a line too narrow for its digits may be left out, not many
    assert all(MIN_DIGITS <= len(text) <= MAX_DIGITS and set(text) <= trained for text in texts)
    assert not any(set(text) & held for text in texts)  # a digit only a held-out cell holds is never used
    assert all(line.dtype == np.uint8 and line.shape[0] == LINE_HEIGHT for line in lines)
    digit = cell_digit(decode_image(images[0]))  # the cell without its grid lines, cut to its ink
    assert digit is not None and digit.shape[1] < 0.9 * decode_image(images[0]).shape[1] and digit.min() < 0.5

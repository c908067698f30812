"""The string reader on the digit network's convolutions (training.string_transfer): the transplant reads digits
where they are written in a line, the frozen phase keeps them, and the one command's model serves."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from recognizer import mnist
from recognizer.line import LINE_HEIGHT, LINE_PAD, LINE_STRIDE
from recognizer.strings import load_string_reader


def as_line(digits: list[np.ndarray], width: int) -> np.ndarray:
    """MNIST digits (uint8 28x28, 20 px box) side by side in a line as ``recognizer.line`` cuts one: the ink
    LINE_HEIGHT - 2 * LINE_PAD px tall, float32 (LINE_HEIGHT, width). Returns the line and each digit's centre."""
    size = round(mnist.IMAGE_SIZE * (LINE_HEIGHT - 2 * LINE_PAD) / mnist.DIGIT_BOX)  # 39: the box to 28 px
    line, centres = np.zeros((LINE_HEIGHT, width), np.float32), []
    for k, digit in enumerate(digits):
        big = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR), np.float32) / 255
        left = 4 + 24 * k
        cut = big[(size - LINE_HEIGHT) // 2 : (size - LINE_HEIGHT) // 2 + LINE_HEIGHT, 8 : size - 7]  # 24 wide
        line[:, left : left + cut.shape[1]] = np.maximum(line[:, left : left + cut.shape[1]], cut)
        centres.append(left + cut.shape[1] // 2)
    return line, centres


@pytest.mark.slow
def test_the_transplanted_digit_network_reads_each_digit_of_a_line_at_the_frame_over_it(mnist_test):
    import keras

    from training.string_transfer import build_transfer_model

    model = build_transfer_model(mnist.KERAS_MODEL_PATH)
    digit_logits = keras.Model(model.input, model.get_layer("digit_logits").output)
    images, labels = mnist_test
    right = 0
    for start in range(0, 60, 6):  # ten lines of six digits
        line, centres = as_line(list(images[start : start + 6]), 160)
        logits = keras.ops.convert_to_numpy(digit_logits(line[None, :, :, None]))[0]  # (frames of 16/3 px, 11)
        for centre, label in zip(centres, labels[start : start + 6]):
            frame = int(round((centre - 2) * 3 / 4 / LINE_STRIDE))  # the window centred nearest the digit
            right += int(np.argmax(logits[frame, : mnist.NUM_DIGITS]) == label)
    assert right >= 57  # of 60: the network's reading of single digits, written as a line

    for width in (64, 68, 72, 76, 512):  # any width the line finder cuts: W/4 frames, as the server expects
        assert model(np.zeros((1, LINE_HEIGHT, width, 1), np.float32)).shape == (1, width // LINE_STRIDE, 15)


@pytest.mark.slow
def test_the_one_command_with_a_backbone_trains_on_it_frozen_then_all_of_it_and_serves(tmp_path, mnist_test):
    import keras

    from training import strings as training_strings

    source = keras.models.load_model(mnist.KERAS_MODEL_PATH, compile=False).get_layer("member_0")
    convolution = source.layers[0]  # the digit network's first convolution, as the reader holds it
    config = {"synthetic": 32, "real_variants": 1, "holdout": 10, "steps": 2, "batch_size": 4}
    config["backbone"] = str(mnist.KERAS_MODEL_PATH)

    frozen = tmp_path / "frozen" / "digit_strings.keras"
    training_strings.train_strings(frozen, {**config, "frozen": True}, work_dir=tmp_path / "work", log=print)
    kept = training_strings.load_reader(frozen).get_layer("digit_" + convolution.name).get_weights()[0]
    assert np.array_equal(kept, convolution.get_weights()[0])  # a frozen phase trains the rest only

    output = tmp_path / "digit_strings.keras"
    record = training_strings.train_strings(output, {**config, "frozen_steps": 2}, work_dir=tmp_path / "work")
    assert record["frozen_phase"]["config"]["frozen"] and record["frozen_phase"]["config"]["steps"] == 2
    assert record["config"]["backbone"] == str(mnist.KERAS_MODEL_PATH) and record["config"]["init"] is None
    trained = training_strings.load_reader(output).get_layer("digit_" + convolution.name).get_weights()[0]
    assert not np.array_equal(trained, convolution.get_weights()[0])  # then the whole reader trains
    tflite = training_strings.convert_strings(output, output.with_suffix(".tflite"))
    reader = load_string_reader(tflite)  # checks the output on a blank line and a stroke
    line, _ = as_line(list(mnist_test[0][:3]), 80)
    assert reader.backend.predict(line[None, :, :, None]).shape == (1, 20, 15)

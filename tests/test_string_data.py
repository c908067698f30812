"""The string reader's training lines: what CTC can learn from, and lines that are the same on any machine."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from recognizer.line import LINE_HEIGHT, LINE_STRIDE
from recognizer.mnist import ROOT
from recognizer.strings import load_string_reader
from training.string_data import alignable, synthetic_lines


def blank_line(frames: int) -> np.ndarray:
    return np.zeros((LINE_HEIGHT, frames * LINE_STRIDE), np.uint8)


def test_a_line_too_narrow_for_its_text_is_not_trained_on():
    # CTC needs a frame per character and a blank between equal neighbours: "111" takes 5 frames, "123" 3.
    assert not alignable(blank_line(4), "111")
    assert alignable(blank_line(5), "111")
    assert alignable(blank_line(3), "123")
    assert not alignable(blank_line(2), "123")
    assert alignable(blank_line(3), "1.2")  # separators are characters too
    assert not alignable(blank_line(2), "1.2")


@pytest.mark.slow
def test_synthetic_lines_are_the_same_whatever_the_number_of_processes():
    # A run on a 16-core GPU machine and one on this 2-core one train on the same lines.
    one, texts_one = synthetic_lines(24, 5, workers=1)
    two, texts_two = synthetic_lines(24, 5, workers=2)
    assert texts_one == texts_two and len(one) == 24
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert len(set(texts_one)) > 12  # and they are lines of many texts, not one


@pytest.mark.slow
def test_the_string_reader_trains_on_jax_too_and_serves_once_converted(tmp_path):
    # A lent GPU machine trains with Keras on JAX (no TensorFlow there); the .keras it writes converts and serves.
    output = tmp_path / "digit_strings.keras"
    command = [sys.executable, "model.py", "train-strings", "--steps", "3", "--synthetic", "48"]
    command += ["--real-variants", "1", "--output", str(output)]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not converted on jax" in done.stdout and not output.with_suffix(".tflite").exists()
    record = json.loads(output.with_suffix(".json").read_text())
    assert record["config"]["steps"] == 3 and "threshold" in record
    subprocess.run([sys.executable, "model.py", "convert-strings", "--model", str(output)], cwd=ROOT, check=True)
    reader = load_string_reader(output.with_suffix(".tflite"))  # checked on a blank line and a stroke
    assert reader.threshold == pytest.approx(record["threshold"])

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
from training.splice import cut_points, splice_lines
from training.string_data import alignable, draw_indices, synthetic_lines, width_order


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


def test_bucketed_batches_are_padded_little_and_still_visit_every_line():
    # Lines 40-400 px wide: a batch is padded to its widest line, so a batch of mixed widths costs the network
    # about twice the compute of its ink; drawn among lines of about one width it costs little more than its ink.
    rng = np.random.default_rng(0)
    lines = [blank_line(int(frames)) for frames in rng.integers(10, 100, 3000)]
    order = width_order(lines)
    widths = np.array([line.shape[1] for line in lines])
    assert np.all(np.diff(widths[order]) >= 0)

    def padding(bucket):
        draws = [draw_indices(rng, order, 32, rng.random(), bucket) for _ in range(300)]
        return np.mean([widths[d].max() * len(d) / widths[d].sum() for d in draws]), np.concatenate(draws)

    uniform, _ = padding(0)
    bucketed, drawn = padding(8)
    assert uniform > 1.5 and bucketed < 1.1
    assert len(set(drawn.tolist())) > 0.9 * len(lines)  # nearly every line drawn in 300 batches, as uniformly
    one_batch = draw_indices(rng, order, 32, 0.5, 8)
    assert len(set(one_batch.tolist())) == 32  # no line twice in a batch
    assert len(draw_indices(rng, order[:10], 32, 0.3, 8)) == 10  # a source smaller than the batch gives what it has


@pytest.mark.slow
def test_synthetic_lines_are_the_same_whatever_the_number_of_processes():
    # A run on a 16-core GPU machine and one on this 2-core one train on the same lines.
    one, texts_one = synthetic_lines(24, 5, workers=1)
    progress = []
    two, texts_two = synthetic_lines(24, 5, workers=2, log=progress.append)
    assert texts_one == texts_two and len(one) == 24
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert len(set(texts_one)) > 12  # and they are lines of many texts, not one
    # A long make says how far it is: lines made so far, rising to the count (in 16 chunks of 1 or 2 lines).
    made = [int(line.split(":")[1].split(" of ")[0].replace(",", "")) for line in progress]
    assert len(made) == 16 and made == sorted(made) and made[-1] == 24 and "of 24" in progress[-1]


@pytest.mark.slow
def test_the_string_reader_trains_on_jax_too_and_serves_once_converted(tmp_path):
    # A lent GPU machine trains with Keras on JAX (no TensorFlow there); the .keras it writes converts and serves.
    output = tmp_path / "digit_strings.keras"
    command = [sys.executable, "model.py", "train-strings", "--steps", "3", "--synthetic", "48"]
    command += ["--real-variants", "1", "--members", "1", "--output", str(output)]
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


@pytest.mark.slow
def test_the_one_command_trains_a_committee_that_the_server_loads_and_that_votes(tmp_path):
    # `python model.py train-strings` trains every member of the committee (from its own data seed, on the same
    # held-out amounts), chooses the committee's operating point on them and names the members in the record.
    output = tmp_path / "digit_strings.keras"
    command = [sys.executable, "model.py", "train-strings", "--steps", "3", "--synthetic", "48"]
    command += ["--real-variants", "1", "--members", "2", "--output", str(output)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    second = tmp_path / "digit_strings_2.keras"
    assert second.with_suffix(".tflite").exists() and output.with_suffix(".tflite").exists()
    first, other = (json.loads(path.with_suffix(".json").read_text()) for path in (output, second))
    assert first["holdout_indices"] == other["holdout_indices"]
    assert first["config"]["data_seed"] != other["config"]["data_seed"]  # trained apart
    committee = first["committee"]
    assert committee["members"] == ["digit_strings.tflite", "digit_strings_2.tflite"]
    assert "committee of 2" in done.stdout
    reader = load_string_reader(output.with_suffix(".tflite"))
    assert len(reader.backends) == 2 and reader.threshold == pytest.approx(committee["threshold"])


def read_as(text: str, frames: int, spikes: list[int]) -> np.ndarray:
    """Frame probabilities whose best path reads ``text``, character k spiking at frame spikes[k]."""
    from recognizer.ctc import ALPHABET, BLANK, NUM_STRING_CLASSES

    probabilities = np.full((frames, NUM_STRING_CLASSES), 0.01, np.float32)
    probabilities[:, BLANK] = 0.9
    for char, frame in zip(text, spikes):
        probabilities[frame] = 0.01
        probabilities[frame, ALPHABET.index(char)] = 0.9
    return probabilities


def test_real_amounts_are_spliced_only_between_separate_characters_and_keep_their_labels():
    # "12": two strokes with a gap between them, and "34" whose strokes touch: 12 can be cut, 34 cannot.
    apart = blank_line(10)
    apart[4:28, 6:12], apart[4:28, 24:32] = 255, 255
    touching = blank_line(10)
    touching[4:28, 6:20], touching[4:28, 20:32] = 255, 255
    cuts_apart = cut_points(apart, read_as("12", 10, [2, 7]), "12")
    assert [digits for _, digits in cuts_apart] == ["", "1", "12"]
    assert 12 <= cuts_apart[1][0] < 24  # in the gap
    assert [digits for _, digits in cut_points(touching, read_as("34", 10, [3, 6]), "34")] == ["", "34"]
    assert cut_points(apart, read_as("17", 10, [2, 7]), "12") is None  # read otherwise: not trusted
    # the left part ends after "1" or "12", the right part starts at "12" or "2"
    lines, labels = splice_lines([apart, apart], ["12", "12"], [cuts_apart, cuts_apart], 20, seed=3)
    assert len(lines) == 20 and set(labels) == {"12", "112", "122", "1212"}
    for line, label in zip(lines, labels):
        assert alignable(line, label) and line.shape[0] == LINE_HEIGHT
        # each spliced line holds as many separate strokes as its label has digits
        inked = np.flatnonzero(line.max(axis=0) > 0)
        assert 1 + np.count_nonzero(np.diff(inked) > 1) == len(label)


def test_a_file_that_is_not_a_corrections_export_is_refused_by_name(tmp_path):
    from training.string_data import correction_lines

    path = tmp_path / "digits.npz"
    np.savez(path, images=np.zeros((1, 28, 28), np.uint8), labels=np.zeros(1, np.uint8))  # a digit set, no numbers
    with pytest.raises(ValueError, match="not a corrections export"):
        correction_lines(path, variants=1, seed=0)

"""The string reader: its network, its training run, its threshold and its conversion to LiteRT.

The network reads a normalised line (``recognizer.line``: (32, W, 1) float32, ink = 1) into W/4 frames of
logits over ``recognizer.ctc.ALPHABET`` and a blank, trained with CTC (Graves et al., 2006). A convolutional stack
and 1-D convolutions over the frames, a recurrent layer optional: Zhan et al. (ICPR 2018, "Handwritten digit string
recognition using convolutional neural network") read ORAND-CAR at 89-92% without one, fast on LiteRT.

The real cheque amounts are labelled with their digits only, although their separators are written: for those
lines the separators' probabilities are added to the blank's before the CTC loss (``training.string_steps``), so the
network is not taught that a written "." is nothing, nor that it must be one. Lines: ``training.string_data``;
the training step on each Keras backend: ``training.string_steps``; real amounts spliced: ``training.splice``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from recognizer.ctc import NUM_STRING_CLASSES
from recognizer.decode import decode_image
from recognizer.line import LINE_HEIGHT, LINE_STRIDE
from recognizer.mnist import ROOT
from training import provenance
from training.cell_strings import cell_lines
from training.no_number import empty_lines
from training.splice import add_spliced
from training.string_data import (
    FreshLines,
    batch,
    cached_synthetic_lines,
    correction_lines,
    draw_indices,
    encode_text,
    real_lines,
    signed_lines,
    width_order,
)
from training.string_steps import keras_probabilities, training_step

STRING_MODEL_NAME = "digit_strings"
STRING_KERAS_PATH = ROOT / f"{STRING_MODEL_NAME}.keras"
STRING_TFLITE_PATH = ROOT / f"{STRING_MODEL_NAME}.tflite"
CONFIG = {
    "seed": 20261203,
    "synthetic": 60_000,  # synthetic lines (synth.strings), made once and cached under runs/strings/
    "real_variants": 16,  # augmented copies of each real training amount
    "holdout": 100,  # real training amounts kept out of training, to choose the rejection threshold on
    "steps": 20_000,
    "batch_size": 32,
    "learning_rate": 1.5e-3,
    "real_share": 0.3,  # share of each batch drawn from the real amounts
    "init": None,  # a .keras reader to start from (fine-tuning), or None for fresh weights
    "data_seed": None,  # seeds the synthetic lines, the real variants and the batches; None: "seed" does
    "filters": [16, 48, 96, 96, 128],  # the network's width (build_string_model)
    "frame_units": 192,
    "recurrent": 0,  # > 0: a bidirectional LSTM of this many units a direction over the frames (CRNN); 0: none
    "fresh_every": 0,  # every this many steps, fresh_chunk synthetic lines are replaced by new ones (0: never)
    "fresh_chunk": 500,
    "splice": 0,  # real amounts recombined (training.splice) added to the real lines; 0: none
    "splice_at": 0.5,  # ... once this share of the steps is done, aligned by the reader being trained
    "bucket": 0,  # > 0: each batch drawn among bucket x its size lines of about one width (draw_indices); 0: uniformly
    "real_steps": 0,  # a second phase on mostly real amounts: this many steps more, at REAL_PHASE's settings
    "real_phase_share": None,  # the second phase's share of real amounts in each batch; None: REAL_PHASE's
    # An export of the page's corrections (``flask --app app corrections export``): its numbers are trained on among
    # the real lines, each line as likely to be drawn as a real amount's; None: none.
    "corrections": None,
    # "finer": every training line found as recognizer.finer.served_line finds it (a small photo's line found again
    # in the photo scaled up), and the reader served so; "found": as line.find_line finds it.
    "lines": "found",
    # Lines that hold no number (training.no_number), from this many synthetic scenes and the trainable blank Sudoku
    # cells, labelled with the empty text; they take empty_share of each batch's synthetic draws. 0: none.
    "empty": 0,
    "empty_share": 0.0,
    "cells": 0,  # lines of 2-6 real sudoku_cells_train digit cells (training.cell_strings), at cells_share
    "cells_share": 0.0,
    "signed": 0,  # signed numbers ("-15", "1500.-"; synth.strings.signed_text), at signed_share of the draws
    "signed_share": 0.0,
}
# The second phase: its batches mostly real amounts, fewer synthetic lines (of the next data seed; at most the first
# phase's count) beside them, a lower peak learning rate. Probed from the shipped reader (docs/experiments.md).
REAL_PHASE = {"real_share": 0.8, "learning_rate": 3e-4, "synthetic": 10_000}
# The served reader may be a committee: networks trained by CONFIG from the data seeds ``member_data_seed`` gives
# (other synthetic lines, real variants, batches and initial weights; the same held-out amounts), voting on the
# digits (recognizer.strings).
COMMITTEE_MEMBERS = 1


def member_data_seed(index: int) -> int:
    """The data seed of the committee's member ``index`` (from 0): CONFIG's seed, then every other number after it."""
    return CONFIG["seed"] + 2 * index


def member_path(output: Path, index: int) -> Path:
    """Where the committee's member ``index`` (from 0) is written: ``output`` itself, then ``<stem>_2.keras``..."""
    output = Path(output)
    return output if index == 0 else output.with_name(f"{output.stem}_{index + 1}{output.suffix}")


def build_string_model(filters=(16, 48, 96, 96, 128), frame_units: int = 192, recurrent: int = 0):
    """Build the reader (uncompiled): (B, 32, W, 1) float32 in [0, 1] -> (B, W/4, NUM_STRING_CLASSES) logits.

    ``filters``: the five convolutions' widths; ``frame_units``: the 1-D convolutions'; ``recurrent``: units of a
    bidirectional LSTM over the frames after them, so each frame sees the whole line (Shi et al., CRNN, TPAMI 2017;
    Zhan et al., ICONIP 2017), 0 for none (``CONFIG``)."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel=3):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    inputs = keras.Input(shape=(LINE_HEIGHT, None, 1), name="line")
    x = conv_bn(inputs, filters[0])  # (B, 32, W, f0)
    x = layers.MaxPooling2D((2, 2))(x)  # (B, 16, W/2, f0)
    x = conv_bn(x, filters[1])
    x = layers.MaxPooling2D((2, 2))(x)  # (B, 8, W/4, f1)
    x = conv_bn(x, filters[2])
    x = conv_bn(x, filters[3])
    x = layers.MaxPooling2D((2, 1))(x)  # (B, 4, W/4, f3)
    x = conv_bn(x, filters[4])
    x = layers.MaxPooling2D((2, 1))(x)  # (B, 2, W/4, f4)
    x = layers.Permute((2, 1, 3))(x)  # (B, W/4, 2, f4)
    x = layers.Reshape((-1, 2 * filters[4]))(x)  # (B, T, 2 f4): one frame per LINE_STRIDE columns
    for dilation in (1, 2, 4):  # each frame sees about +-7 frames (28 px, a digit and its neighbours)
        x = layers.Conv1D(frame_units, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    if recurrent:
        x = layers.Bidirectional(layers.LSTM(recurrent, return_sequences=True))(x)
    x = layers.Dropout(0.2)(x)
    logits = layers.Dense(NUM_STRING_CLASSES, name="logits")(x)  # (B, T, 15)
    return keras.Model(inputs, logits, name=STRING_MODEL_NAME)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def train_strings(
    output: Path = STRING_KERAS_PATH,
    config: dict | None = None,
    data_dir=None,
    work_dir: Path = ROOT / "runs" / "strings",
    log=print,
) -> dict:
    """Train the string reader and save it (.keras and .tflite beside it, with its record).

    ``config``: overrides of ``CONFIG``: from fresh weights, or from ``init``'s (fine-tuning, on fresh data when
    ``data_seed`` differs). ``seed`` alone chooses the held-out real amounts, so a fine-tuning run keeps the
    holdout of the run it starts from. Synthetic lines are made once per (seed, count, code that makes them) and
    cached in ``work_dir``. Returns the training record (config, data, time, holdout figures), also written beside the
    model as ``<name>.json``."""
    import keras

    import datasets

    config = {**CONFIG, **(config or {})}
    seed = config["seed"]
    data_seed = seed if config["data_seed"] is None else int(config["data_seed"])
    keras.utils.set_random_seed(data_seed)
    started, commit = time.time(), provenance.commit()  # the code the run starts from, whatever is committed meanwhile
    work_dir.mkdir(parents=True, exist_ok=True)
    Path(output).parent.mkdir(parents=True, exist_ok=True)  # now, not after the run: a run is an hour
    finer = config["lines"] == "finer"
    synth, synth_texts = cached_synthetic_lines(work_dir, config["synthetic"], data_seed, finer, log)
    log(f"synthetic lines: {len(synth_texts):,} ({time.time() - started:.0f} s)")

    images, labels, _ = datasets.load_realworld("orand_car_a_train", data_dir)
    order = np.random.default_rng(seed).permutation(len(images))
    holdout, trainable = order[: config["holdout"]], order[config["holdout"] :]
    real, real_texts = real_lines(
        [images[i] for i in trainable], labels[trainable], config["real_variants"], data_seed, finer
    )
    log(f"real lines: {len(real_texts):,} from {len(trainable)} amounts ({time.time() - started:.0f} s)")

    sources = [(synth, synth_texts, False), (real, real_texts, True)]
    fixed_texts = []
    if config["corrections"]:  # the person's own numbers, labelled with their separators: the full loss
        fixed, fixed_texts = correction_lines(config["corrections"], config["real_variants"], data_seed)
        sources.append((fixed, fixed_texts, False))
        log(f"corrected numbers: {len(fixed_texts):,} lines from {config['corrections']}")
    shares, made = [], {"empty": 0, "cells": 0, "signed": 0}  # sources drawn as a share of the synthetic draws
    for name, make, offset in (("empty", empty_lines, 2), ("cells", cell_lines, 3), ("signed", signed_lines, 4)):
        if config[name]:  # the full loss: their texts are whole
            lines, texts = make(config[name], data_seed + offset, finer, data_dir, log)
            sources.append((lines, texts, False))
            shares.append(config[f"{name}_share"])
            made[name] = len(texts)
    fresh = FreshLines(
        synth, synth_texts, data_seed, config["steps"], config["fresh_every"], config["fresh_chunk"], finer
    )
    model = build_string_model(config["filters"], config["frame_units"], config["recurrent"])
    if config["init"]:
        model.set_weights(keras.models.load_model(config["init"], compile=False).get_weights())
        log(f"starting from {config['init']}")
    schedule = keras.optimizers.schedules.CosineDecay(
        config["learning_rate"], config["steps"], alpha=0.02, warmup_target=None
    )
    optimizer = keras.optimizers.Adam(schedule, clipnorm=5.0)

    step, finish = training_step(model, optimizer)

    rng = np.random.default_rng(data_seed)
    losses = []
    orders, orders_for = None, None  # each source's lines by width, and the state of the lines they were sorted in
    try:
        for number in range(1, config["steps"] + 1):
            fresh.refresh(number)
            if config["splice"] and number == max(1, int(config["steps"] * config["splice_at"])):
                finish()  # the JAX step's state into the model, to align with it
                log(f"step {number}: " + add_spliced(model, real, real_texts, config["splice"], data_seed + 1))
            n_real = rng.binomial(config["batch_size"], config["real_share"])
            counts = [config["batch_size"] - n_real, n_real]
            if config["corrections"]:  # a corrected number's line is drawn as often as a real amount's
                counts[1:] = _split(rng, n_real, len(real_texts), len(fixed_texts))
            for share in shares:  # a share of the synthetic draws each
                counts.append(rng.binomial(counts[0], share))
                counts[0] -= counts[-1]
            if orders_for != (fresh.made, len(real_texts)):  # fresh or spliced lines came in: order them again
                orders = [width_order(lines) if config["bucket"] else np.arange(len(lines)) for lines, _, _ in sources]
                orders_for = (fresh.made, len(real_texts))
            quantile = rng.random() if config["bucket"] else 0.0  # one place in each source's widths for the batch
            parts = [
                (lines, texts, digits_only, draw_indices(rng, order, n, quantile, config["bucket"]))
                for (lines, texts, digits_only), order, n in zip(sources, orders, counts)
                if n
            ]
            xs, widths, targets, flags = [], [], [], []
            for lines, texts, digits_only, indices in parts:
                x, w = batch(lines, indices)
                xs.append(x)
                widths.extend(w)
                targets.extend(encode_text(texts[i]) for i in indices)
                flags.extend([digits_only] * len(indices))
            width = max(x.shape[2] for x in xs)
            x = np.concatenate([np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[2]), (0, 0))) for x in xs])
            lengths = np.array([len(t) for t in targets], np.int32)
            dense = np.zeros((len(targets), max(1, lengths.max())), np.int32)
            for row, t in enumerate(targets):
                dense[row, : len(t)] = t
            frames = (np.array(widths) // LINE_STRIDE).astype(np.int32)
            losses.append(float(step(x, dense, lengths, frames, np.array(flags))))
            if number % 250 == 0 or number == config["steps"]:
                log(
                    f"step {number}/{config['steps']}: CTC loss {np.mean(losses[-250:]):.3f} "
                    f"({time.time() - started:.0f} s, {fresh.made * fresh.chunk:,} fresh lines)"
                )
    finally:
        fresh.close()
    finish()

    output = Path(output)
    model.save(output)
    minutes = (time.time() - started) / 60
    record = {
        "model": output.name,
        "config": config,
        "minutes": round(minutes, 1),
        "command": " ".join([Path(sys.executable).name, *sys.argv]) if sys.argv else "",
        "commit": commit,
        "real_training_amounts": int(len(trainable)),
        "correction_lines": len(fixed_texts),
        "no_number_lines": made["empty"],
        "cell_lines": made["cells"],
        "signed_lines": made["signed"],
        "corrections_sha256": provenance.sha256_files([config["corrections"]]) if config["corrections"] else {},
        "holdout_indices": [int(i) for i in holdout],
        "final_loss": float(np.mean(losses[-250:])),
    }
    output.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    log(f"saved {output} ({minutes:.1f} min)")
    if config["real_steps"]:
        log(f"second phase: {config['real_steps']} steps on mostly real amounts, from {output}")
        phase = {**config, **REAL_PHASE, "init": str(output), "steps": config["real_steps"], "real_steps": 0}
        phase.update(synthetic=min(REAL_PHASE["synthetic"], config["synthetic"]), data_seed=data_seed + 1)
        if config["real_phase_share"] is not None:
            phase["real_share"] = float(config["real_phase_share"])
        first, record = record, train_strings(output, phase, data_dir, work_dir, log)
        settings = {key: phase[key] for key in ("steps", "real_share", "learning_rate", "synthetic", "data_seed")}
        # config holds the first phase's settings; second_phase what the phase ran with.
        record.update(
            config=config,
            minutes=round(first["minutes"] + record["minutes"], 1),
            first_phase=first,
            second_phase=settings,
        )
        output.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _split(rng: np.random.Generator, count: int, first: int, second: int) -> list[int]:
    """Split ``count`` draws between two pools of ``first`` and ``second`` lines in proportion to their sizes."""
    to_second = rng.binomial(count, second / max(1, first + second))
    return [count - to_second, to_second]


def choose_threshold(keras_path: Path = STRING_KERAS_PATH, data_dir=None, max_error: float = 0.01) -> dict:
    """Read the held-out real training amounts (the record's ``holdout_indices``) and choose the operating point.

    The threshold is the lowest digits' probability (``ctc.digits_probability``, read as served) at which the
    amounts read from the most confident down are wrong at most ``max_error`` of the time (the served
    ``low_confidence``); it is written into the model's record, with the holdout's exact share, and returned
    with them. Never chosen on ``orand_car_a_val``."""
    record_path = Path(keras_path).with_suffix(".json")
    record = json.loads(record_path.read_text())
    record.update(_operating_point([keras_path], record, data_dir, max_error))
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def choose_committee(keras_paths: list[Path], data_dir=None, max_error: float = 0.01) -> dict:
    """Choose the operating point of the committee of ``keras_paths`` (trained with one ``seed``, so the same
    held-out amounts) as ``choose_threshold`` does for one network, reading as served (the networks vote,
    ``recognizer.strings.StringReader``), and write it into the first member's record as ``committee``: the
    members' .tflite names (beside it), the threshold, the holdout's exact share and read rate. Returns it."""
    records = [json.loads(Path(path).with_suffix(".json").read_text()) for path in keras_paths]
    if any(record["holdout_indices"] != records[0]["holdout_indices"] for record in records):
        raise ValueError("the committee's members were trained with other held-out amounts (another --seed)")
    committee = {
        "members": [Path(path).with_suffix(".tflite").name for path in keras_paths],
        "data_seeds": [record["config"].get("data_seed") or record["config"]["seed"] for record in records],
        **_operating_point(keras_paths, records[0], data_dir, max_error),
    }
    first = Path(keras_paths[0]).with_suffix(".json")
    first.write_text(json.dumps({**records[0], "committee": committee}, indent=2) + "\n")
    return committee


def _operating_point(keras_paths, record: dict, data_dir, max_error: float) -> dict:
    """The operating point of the readers at ``keras_paths`` on the held-out amounts of ``record`` (the first
    member's), each read as it will be served (through lines found finer where the record says so)."""
    import keras

    import datasets
    from recognizer.strings import StringReader, as_trained, operating_point

    class Probabilities:  # a Keras model as the served LiteRT file is: logits -> probabilities
        def __init__(self, path):
            self.name, self.path = "keras", path
            self.model = keras.models.load_model(path, compile=False)

        def predict(self, batch):
            return keras_probabilities(self.model, batch)

    reader = StringReader([Probabilities(path) for path in keras_paths], **as_trained(record))
    images, labels, _ = datasets.load_realworld("orand_car_a_train", data_dir)
    confidences, correct = [], []
    for i in record["holdout_indices"]:
        reading = reader.read(decode_image(images[i]))  # as served: every candidate line, the surest kept
        confidences.append(reading.string_confidence)
        correct.append(reading.number == str(labels[i]))
    rate, threshold = operating_point(confidences, correct, max_error)
    return {  # where nothing can be read within the error, everything is flagged (a threshold of 1)
        "holdout_exact": float(np.mean(correct)),
        "threshold": threshold if rate else 1.0,
        "holdout_read_rate": rate,
    }


def convert_strings(keras_path: Path = STRING_KERAS_PATH, tflite_path: Path = STRING_TFLITE_PATH) -> Path:
    """Convert the reader to LiteRT with a softmax on its logits: (1, 32, W, 1) -> (1, W/4, 15) probabilities.
    The width is left dynamic: the server resizes the input per line (``recognizer.backends``); the batch is one
    line, as served (an LSTM converts only with a fixed batch)."""
    import keras
    import tensorflow as tf

    model = keras.models.load_model(keras_path, compile=False)
    line = keras.Input(shape=(LINE_HEIGHT, None, 1), batch_size=1, name="line")
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(line, keras.layers.Softmax()(model(line))))
    Path(tflite_path).write_bytes(converter.convert())
    return Path(tflite_path)


def serve_for_photos(keras_path: Path, shipped: Path = STRING_KERAS_PATH) -> Path:
    """Serve a trained reader for the lines of photos and scans beside the shipped one (``StringReader.photos``).

    Copies ``keras_path`` with its .tflite and record (.json) to ``<shipped>_photos.*`` and names the .tflite in the
    shipped reader's record (``"photos"``), which ``recognizer.strings.load_string_reader`` follows; lines of
    drawings stay with the shipped reader. Returns the .tflite served. Raises FileNotFoundError where one of the
    three files or the shipped record is missing."""
    import shutil

    keras_path, shipped = Path(keras_path), Path(shipped)
    target = shipped.with_name(f"{shipped.stem}_photos.keras")
    sources = [keras_path.with_suffix(suffix) for suffix in (".keras", ".tflite", ".json")]
    record_path = shipped.with_suffix(".json")
    for path in [*sources, record_path]:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: train and convert the reader first")
    for source in sources:
        shutil.copyfile(source, target.with_suffix(source.suffix))
    record = json.loads(record_path.read_text())
    record["photos"] = target.with_suffix(".tflite").name
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return target.with_suffix(".tflite")

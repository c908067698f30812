"""Where a request's time goes: the per-stage budget of the request path, in microseconds, for four images.

    .venv/bin/python -m bench.stages            # 300 calls a stage, medians
    .venv/bin/python -m bench.stages --quick    # 60 calls

The images are what users send: the page's drawing of a digit (a ``PAGE_DIGIT_SIDE`` px PNG) and of a number
(600x200 PNG), a phone photo of a Sudoku cell (``realworld/sudoku_cells_val``, JPEG) and a scanned cheque amount
(``realworld/orand_car_a_train``, JPEG), each read in mode ``auto`` as ``/predict`` reads it by default. The
stages are those of ``recognizer.reader.Reader.read``:

    decode         bytes -> grey, at most 1024 px a side (``decode.decode_image_sized``)
    ink and lines  ink map, lines erased, strokes labelled (``lines.clean_ink``)
    line finding   the candidate lines of handwriting (``line.find_lines``), as auto mode always looks for one
    segmentation   the digit path: units, spans rendered as 28x28 (``segment.segment``, ``render``)
    network        the networks alone on what the stages above gave them (LiteRT, one thread)
    answer         ``Reading.to_json`` (per-digit 28x28 PNGs) and ``json.dumps``

and the whole request in process (``Reader.read`` and the answer), which also holds what no stage names
(the segmenter's choice of spans, the CTC decoding, boxes). Timing belongs here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STAGES = ("decode", "ink and lines", "line finding", "segmentation", "network", "answer")


def sample_images() -> dict[str, bytes]:
    """The four images: name -> bytes as a client sends them."""
    import datasets
    from bench.run import canvas_png, number_png
    from recognizer.png import encode_png
    from synth.canvas import PAGE_DIGIT_SIDE

    images = {f"canvas digit ({PAGE_DIGIT_SIDE} px PNG)": canvas_png()}
    number = number_png()  # dark ink on white; the page sends black ink on a transparent canvas
    from recognizer.decode import decode_image

    grey = decode_image(number)
    rgba = np.zeros((*grey.shape, 4), np.uint8)
    rgba[..., 3] = np.round((1 - grey) * 255).astype(np.uint8)
    images["canvas number (600x200 PNG)"] = encode_png(rgba)
    cells, labels, _ = datasets.load_realworld("sudoku_cells_val")
    images["phone photo, Sudoku cell (JPEG)"] = cells[int(np.flatnonzero(labels == "7")[0])]
    amounts, _, _ = datasets.load_realworld("orand_car_a_train")
    images["scan, cheque amount (JPEG)"] = amounts[0]
    return images


def median_us(fn, calls: int) -> float:
    """Median wall time of ``fn()`` over ``calls`` calls (after 3 warm-up calls), microseconds."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1000


def stage_budget(data: bytes, reader, calls: int) -> dict[str, float | str]:
    """Time each stage of ``reader.read(data, "auto")`` on its own: stage -> median microseconds ("" where the
    path does not run it), "total" (the whole request in process) and "reader" (which recognizer answered)."""
    from recognizer.decode import decode_image_sized
    from recognizer.line import find_lines
    from recognizer.lines import clean_ink
    from recognizer.segment import NUMBER_ASPECT, segment

    grey, _ = decode_image_sized(data)
    clean = clean_ink(grey)
    lines = find_lines(grey, clean=clean)
    reading = reader.read(data, "auto")
    row: dict[str, float | str] = {"reader": reading.reader}
    row["decode"] = median_us(lambda: decode_image_sized(data), calls)
    row["ink and lines"] = median_us(lambda: clean_ink(grey), calls)
    row["line finding"] = median_us(lambda: find_lines(grey, clean=clean), calls)
    if reading.reader == "strings":
        row["segmentation"] = ""
        inputs = [line.image[np.newaxis, :, :, np.newaxis] for line in lines]
        networks = reader.strings.backends  # every network of a committee reads every candidate line
    else:

        def segment_and_render():
            s = segment(grey, clean)
            return [np.stack([s.render(a, b).image for a, b in s.spans()])[:, :, :, np.newaxis]]

        row["segmentation"] = median_us(segment_and_render, calls)
        inputs = segment_and_render()
        networks = [reader.digits.backend]
        if reader.strings is not None and lines[0].box[2] >= NUMBER_ASPECT * lines[0].box[3]:
            # auto mode read the line and fell back to the segments (at most one digit read): both readers ran
            lined = [line.image[np.newaxis, :, :, np.newaxis] for line in lines]
            row["network"] = median_us(lambda: [n.predict(x) for n in reader.strings.backends for x in lined], calls)
    row["network"] = float(row.get("network", 0.0)) + median_us(
        lambda: [network.predict(x) for network in networks for x in inputs], calls
    )
    row["answer"] = median_us(lambda: json.dumps(reading.to_json()), calls)
    row["total"] = median_us(lambda: json.dumps(reader.read(data, "auto").to_json()), calls)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 calls a stage instead of 300")
    args = parser.parse_args(argv)
    import evaluation

    calls = 60 if args.quick else 300
    reader = evaluation.as_reader()
    print(
        f"Per-stage budget of one request in process, mode auto, median of {calls} calls, microseconds "
        f"({os.cpu_count()} cores, LiteRT one thread):\n"
    )
    print("| image | read by | " + " | ".join(STAGES) + " | whole request |")
    print("| --- | --- | " + " | ".join("---:" for _ in STAGES) + " | ---: |")
    for name, data in sample_images().items():
        row = stage_budget(data, reader, calls)
        cells = [f"{row[s]:.0f}" if isinstance(row[s], float) else "-" for s in STAGES]
        print(f"| {name} | {row['reader']} | " + " | ".join(cells) + f" | {row['total']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

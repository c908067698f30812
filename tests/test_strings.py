"""The string reader: whole numbers read through /predict, the mode, the line finder and CTC decoding."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

import evaluation_strings
from recognizer.ctc import ALPHABET, BLANK, NUM_STRING_CLASSES, best_path, digits_probability, text_of
from recognizer.decode import decode_image
from recognizer.line import LINE_HEIGHT, LINE_STRIDE, find_line, find_lines, owners_of
from recognizer.lines import clean_ink
from recognizer.normalize import label_components
from recognizer.png import encode_png
from recognizer.strings import character_columns, load_string_reader
from synth.canvas import compose_number, encode
from synth.strings import scene, write_line


def frames(labels: str, peak: float = 0.9) -> np.ndarray:
    """Frame probabilities whose best path is ``labels`` ("_" = blank), each frame's best at ``peak``."""
    out = np.full((len(labels), NUM_STRING_CLASSES), (1 - peak) / (NUM_STRING_CLASSES - 1), np.float32)
    for t, c in enumerate(labels):
        out[t, BLANK if c == "_" else ALPHABET.index(c)] = peak
    return out


def test_best_path_merges_repeats_and_drops_blanks():
    characters, confidence = best_path(frames("_33_3__7.55_0"))
    assert "".join(c.char for c in characters) == "337.50"
    assert [(c.first, c.last) for c in characters][:2] == [(1, 2), (4, 4)]
    assert confidence == pytest.approx(0.9**13, rel=1e-5)


def test_the_digits_probability_ignores_separators_and_blanks_and_is_zero_without_digits():
    out = frames("_3_._5_")
    out[1, ALPHABET.index("3")], out[5, ALPHABET.index("5")] = 0.8, 0.6  # the digits' own doubt
    out[3, ALPHABET.index(".")] = 0.3  # a doubtful separator and blanks do not lower it
    characters, _ = best_path(out)
    assert digits_probability(characters) == pytest.approx(0.8 * 0.6, rel=1e-5)
    assert digits_probability(best_path(frames("_.__-"))[0]) == 0.0


def test_text_keeps_inner_separators_and_a_minus_sign_and_drops_a_cheques_terminator():
    characters, _ = best_path(frames("2_5.5_7_4.-"))
    assert text_of(characters) == "25.574"
    assert text_of(best_path(frames("__"))[0]) == ""
    assert text_of(best_path(frames("-_1_5_"))[0]) == "-15"  # a negative number keeps its sign
    assert text_of(best_path(frames("/_1_2,-"))[0]) == "12"
    assert text_of(best_path(frames("-_.__"))[0]) == ""  # no digits: no number, and no sign


def test_read_rate_keeps_the_most_confident_within_the_error():
    confidences = np.linspace(1, 0, 200)
    correct = np.ones(200, bool)
    correct[[5, 150, 160]] = False  # one early mistake is within 1% of 100 readings, three are not of 200
    rate, threshold = evaluation_strings.read_rate(confidences, correct)
    assert rate == pytest.approx(150 / 200)
    assert threshold == pytest.approx(confidences[149])
    assert evaluation_strings.read_rate([0.9], [False]) == (0.0, float("inf"))


def test_the_risk_coverage_area_is_lower_the_lower_the_errors_rank():
    confidences = np.linspace(1, 0, 100)
    correct = np.ones(100, bool)
    last, first = correct.copy(), correct.copy()
    last[-10:], first[:10] = False, False  # the same 10 errors, least confident or most confident
    low, high = (evaluation_strings.risk_coverage_area(confidences, c) for c in (last, first))
    assert low < 0.1 < high  # below the 10% error where errors rank last, above it where they rank first
    assert evaluation_strings.risk_coverage_area(confidences, correct) == 0.0
    shuffled = np.random.default_rng(0).permutation(last)  # confidence that says nothing: about the error itself
    assert abs(evaluation_strings.risk_coverage_area(confidences, shuffled) - 0.1) < 0.06


class FixedNetwork:
    """A string network that reads every line as ``labels`` (``frames``), with each frame's best at ``peak``."""

    def __init__(self, labels: str, peak: float):
        self.labels, self.peak = labels, peak

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = frames(self.labels.ljust(batch.shape[2] // LINE_STRIDE, "_"), self.peak)
        return out[np.newaxis, : batch.shape[2] // LINE_STRIDE]


def one_line(width: int = 96):
    """A found line holding two strokes, as ``line.find_lines`` returns it."""
    grey = np.ones((LINE_HEIGHT * 2, width), np.float32)
    grey[10:50, 20:26] = 0.0
    grey[10:50, 60:66] = 0.0
    line = find_lines(grey)[0]
    assert line.image.shape[1] // LINE_STRIDE >= 5  # frames enough for "_3_7_"
    return line


def test_a_committee_of_string_networks_votes_and_its_confidence_counts_the_dissenters():
    from recognizer.strings import StringReader

    line = one_line()
    sure_37, unsure_31, also_37 = FixedNetwork("_3_7_", 0.9), FixedNetwork("_3_1_", 0.7), FixedNetwork("_3_7_", 0.6)
    alone = StringReader(sure_37, threshold=0.5).read_line(line)
    assert (alone.number, alone.string_confidence) == ("37", pytest.approx(0.81, rel=1e-5))  # 0.9 x 0.9
    # Two networks disagree: the surer one's digits win, at half its probability (the other counts 0) ...
    split = StringReader([unsure_31, sure_37], threshold=0.5).read_line(line)
    assert split.number == "37"
    assert split.string_confidence == pytest.approx(0.81 / 2, rel=1e-5)
    assert split.low_confidence  # under the operating point once the committee is split
    # ... and two that agree outvote a surer third.
    vote = StringReader([also_37, unsure_31, also_37], threshold=0.5).read_line(line)
    assert vote.number == "37"
    assert vote.string_confidence == pytest.approx(2 * 0.36 / 3, rel=1e-5)


def test_a_committee_is_loaded_from_the_model_record(tmp_path):
    import shutil

    from recognizer.strings import STRING_MODEL_PATH

    for name in ("a.tflite", "b.tflite"):
        shutil.copy(STRING_MODEL_PATH, tmp_path / name)
    (tmp_path / "a.json").write_text(
        json.dumps({"threshold": 0.9, "committee": {"members": ["a.tflite", "b.tflite"], "threshold": 0.4}})
    )
    reader = load_string_reader(tmp_path / "a.tflite")
    assert (len(reader.backends), reader.threshold) == (2, 0.4)
    (tmp_path / "b.json").write_text(json.dumps({"threshold": 0.9}))
    single = load_string_reader(tmp_path / "b.tflite")
    assert (len(single.backends), single.threshold) == (1, 0.9)


class EndsOverBlank:
    """A network that reads a line's last digit only where blank paper follows the ink, as a reader with a recurrent
    layer did (its backward LSTM trained on lines padded to their batch's widest): "_3_7_" then, "_3___" without,
    and a "9" in the last frames whatever the input, which a served reader must not report."""

    def __init__(self):
        self.widths = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.widths.append(batch.shape[2])
        out = frames(("_3_7_" if not batch[0, :, -8:].any() else "_3___").ljust(batch.shape[2] // LINE_STRIDE, "_"))
        out[-2:] = frames("9_")
        return out[np.newaxis]


def test_a_recurrent_reader_reads_each_line_with_blank_after_it_and_reports_only_the_line(tmp_path):
    import shutil

    from recognizer.strings import RECURRENT_PADDING, STRING_MODEL_PATH, StringReader

    line = one_line()
    line.image[:, -8:] = 1.0  # ink to the line's last column, as a line found on a canvas is cropped to its ink
    network = EndsOverBlank()
    assert StringReader(network).read_line(line).number == "39"  # its last digit lost, the edge read
    reading = StringReader(network, padding=RECURRENT_PADDING).read_line(line)
    assert reading.number == "37"  # the 7 read; nothing of the padding's frames
    assert network.widths[-1] == line.image.shape[1] + RECURRENT_PADDING
    assert all(x + w <= line.box[0] + line.box[2] for x, _, w, _ in (d.box for d in reading.digits))
    for recurrent, padding in ((96, RECURRENT_PADDING), (0, 0)):  # read as the record says it was trained
        shutil.copy(STRING_MODEL_PATH, tmp_path / f"r{recurrent}.tflite")
        (tmp_path / f"r{recurrent}.json").write_text(json.dumps({"config": {"recurrent": recurrent}}))
        assert load_string_reader(tmp_path / f"r{recurrent}.tflite").padding == padding
    with pytest.raises(ValueError, match="multiple"):
        StringReader(network, padding=6)


def spiked(char: str, frame: int):
    """A character of a best path (``ctc.Character``) spiking on one frame."""
    from recognizer.ctc import Character

    return Character(char, frame, frame, np.ones(NUM_STRING_CLASSES, np.float32))


def test_each_digit_gets_its_own_mark_where_the_spikes_would_cut_inside_a_loop():
    # A stranger's "20261985" (2026-12-06): a separator read in the middle and spikes at the digits' edges put the
    # cut inside a 0's loop (its least-inked columns), and every box after it on the wrong digit.
    image = np.zeros((LINE_HEIGHT, 64), np.float32)
    image[4:28, 4:14] = 1.0  # a digit, columns 4-13
    image[4:28, 20:22] = image[4:28, 30:32] = 1.0  # a 0: two sides (columns 20-31) ...
    image[4:6, 22:30] = image[26:28, 22:30] = 1.0  # ... and its thin top and bottom: the least ink, inside it
    image[4:28, 40:50] = 1.0  # a digit, columns 40-49

    read = [spiked("2", 3), spiked(".", 5), spiked("0", 7), spiked("2", 11)]  # a separator read where there is none
    # Three marks, three digits: "2" columns 0-13, the "." the gap 14-19, the "0" 20-35 whole, the "2" 36-63.
    assert character_columns(image, read) == [0, 14, 20, 36, 64]
    spaced = [spiked("2", 3), spiked("0", 6), spiked("2", 11)]  # as many marks as characters: one each
    assert character_columns(image, spaced) == [0, 17, 36, 64]


def test_a_speck_beside_two_joined_digits_is_not_taken_for_the_second_digit():
    # A cheque amount: "12" written in one stroke and a speck of the printed stripes after it make two marks for two
    # digits; matched in order, the 2's box was the speck. The 2's spike lies on the stroke, so the spikes cut.
    image = np.zeros((LINE_HEIGHT, 64), np.float32)
    image[4:28, 4:30] = 1.0  # "12" joined, columns 4-29
    image[14:16, 40:42] = 1.0  # a speck, columns 40-41

    edges = character_columns(image, [spiked("1", 2), spiked("2", 5)])  # spikes at columns 10 and 22
    assert edges[0] == 0 and 10 < edges[1] < 22 and edges[2] == 64  # each digit its part of the stroke
    apart = np.zeros((LINE_HEIGHT, 64), np.float32)
    apart[4:28, 4:14] = apart[4:28, 40:50] = 1.0  # two digits apart, each spiked on its own mark: runs as before
    assert character_columns(apart, [spiked("1", 2), spiked("2", 11)]) == [0, 27, 64]


def test_lines_of_photos_go_to_the_photo_reader_and_drawings_stay_with_the_first():
    import dataclasses

    from recognizer.strings import StringReader

    drawn = one_line()
    assert not drawn.photo  # a clean drawing
    photos = StringReader(FixedNetwork("_4_2_", 0.9), threshold=0.95)
    reader = StringReader(FixedNetwork("_3_7_", 0.9), threshold=0.5, photos=photos)
    assert reader.read_line(drawn).number == "37"
    scanned = reader.read_line(dataclasses.replace(drawn, photo=True))
    assert scanned.number == "42"
    assert scanned.low_confidence  # the photo reader's own threshold: 0.81 < 0.95
    assert not reader.read_line(drawn).low_confidence  # the drawings' 0.5


def test_a_scanned_amount_is_read_as_a_photo_and_a_canvas_drawing_is_not(mnist_test):
    import datasets

    images, _, _ = datasets.load_realworld("orand_car_a_train")
    assert all(find_lines(decode_image(images[i]))[0].photo for i in range(5))
    drawn = np.clip(number_image("305", 2, mnist_test).astype(np.float32) / 255, 0, 1)  # dark ink on white
    assert not any(line.photo for line in find_lines(drawn))


def test_the_reader_for_photos_is_named_in_the_record_and_loaded_with_its_own_threshold(tmp_path):
    import shutil

    from recognizer.strings import STRING_MODEL_PATH
    from training.strings import serve_for_photos

    shutil.copy(STRING_MODEL_PATH, tmp_path / "digit_strings.tflite")
    (tmp_path / "digit_strings.json").write_text(json.dumps({"threshold": 0.9}))
    trained = tmp_path / "run" / "digit_strings.keras"
    trained.parent.mkdir()
    shutil.copy(STRING_MODEL_PATH, trained.with_suffix(".tflite"))
    (trained.with_suffix(".json")).write_text(json.dumps({"threshold": 0.7}))
    with pytest.raises(FileNotFoundError, match="digit_strings.keras"):
        serve_for_photos(trained, tmp_path / "digit_strings.keras")  # not trained: no .keras
    trained.write_bytes(b"keras")
    served = serve_for_photos(trained, tmp_path / "digit_strings.keras")
    assert served == tmp_path / "digit_strings_photos.tflite"
    assert json.loads((tmp_path / "digit_strings.json").read_text()) == {"threshold": 0.9, "photos": served.name}
    reader = load_string_reader(tmp_path / "digit_strings.tflite")
    assert (reader.threshold, reader.photos.threshold, reader.photos.photos) == (0.9, 0.7, None)
    (tmp_path / "digit_strings.json").write_text(json.dumps({"threshold": 0.9}))
    assert load_string_reader(tmp_path / "digit_strings.tflite").photos is None  # not named: one reader


def number_image(text: str, seed: int, mnist_test, height: int = 120) -> np.ndarray:
    """Dark ink on white, uint8: ``text`` written by hand from MNIST test digits (``synth.strings.write_line``)."""
    images, labels = mnist_test
    ink = write_line(text, np.random.default_rng(seed), (images, labels), part="eval")
    scale = height / ink.shape[0]
    ink = np.asarray(Image.fromarray(ink).resize((round(ink.shape[1] * scale), height)), np.float32)
    return np.round(255 - np.clip(ink, 0, 1) * 255).astype(np.uint8)


def test_the_line_is_found_inside_a_scan_with_a_margin_a_rule_and_a_cross(mnist_test):
    number = number_image("128", 3, mnist_test, height=60)
    page = np.full((160, 420), 235, np.uint8)
    page[:, :30] = 10  # the scanner's black margin
    page[:, 300:303] = 40  # a column rule
    page[50 : 50 + number.shape[0], 80 : 80 + number.shape[1]] = number[:, :220]
    cross = Image.fromarray(page)
    ImageDraw.Draw(cross).line([(340, 60), (370, 90)], fill=30, width=3)
    ImageDraw.Draw(cross).line([(340, 90), (370, 60)], fill=30, width=3)
    line = find_line(np.asarray(cross, np.float32) / 255)
    rows = np.flatnonzero((number[:, :220] < 128).any(axis=1)) + 50  # the written ink's own box on the page
    cols = np.flatnonzero((number[:, :220] < 128).any(axis=0)) + 80
    x, y, w, h = line.box
    assert abs(x - cols[0]) <= 3 and abs(x + w - 1 - cols[-1]) <= 3
    assert abs(y - rows[0]) <= 3 and abs(y + h - 1 - rows[-1]) <= 3
    assert line.image.shape[0] == LINE_HEIGHT and line.image.shape[1] % LINE_STRIDE == 0


def test_a_cheque_amount_that_fills_its_crop_is_not_taken_for_a_margin():
    # Cheque amounts are cropped to their ink: a cursive amount joined into one stroke ("6654"), or joined to the
    # cheque's printed stripes ("4900", "4.542"), runs from edge to edge both ways; the touching "40" of "40.000"
    # stands at the left edge twice as tall as its small zeros. They are the writing, not a scanner's margin or
    # band; taken for one, the line was a speck or the zeros alone (amounts of orand_car_a_train).
    import datasets

    images, labels, _ = datasets.load_realworld("orand_car_a_train")
    for label, which in (("6654", 0), ("4900", 0), ("4542", 0), ("40000", 1)):
        grey = decode_image(images[int(np.flatnonzero(labels == label)[which])])
        x, y, w, h = find_line(grey).box
        assert w >= 0.8 * grey.shape[1] and h >= 0.5 * grey.shape[0], label


def test_a_cross_larger_than_the_digits_does_not_hide_a_small_number(real_client, mnist_test):
    number = number_image("58", 4, mnist_test, height=48)
    page = np.full((120, 400), 235, np.uint8)
    page[40 : 40 + number.shape[0], 60 : 60 + number.shape[1]] = number
    cross = Image.fromarray(page)
    ImageDraw.Draw(cross).line([(300, 30), (350, 85)], fill=20, width=4)  # more ink than either digit
    ImageDraw.Draw(cross).line([(300, 85), (350, 30)], fill=20, width=4)
    grey = np.asarray(cross, np.float32) / 255
    lines = find_lines(grey)
    assert len(lines) == 2 and lines[0].box[0] >= 295  # the cross has the most ink: it comes first
    assert 55 <= lines[1].box[0] and lines[1].box[0] + lines[1].box[2] <= 60 + number.shape[1] + 3
    assert len(find_lines(grey[:, :250])) == 1  # the number alone: its strokes grow one line, returned once
    body = real_client.post("/predict?mode=number", data=encode(cross, "PNG"), content_type="image/png").get_json()
    assert (body["reader"], body["number"]) == ("strings", "58")  # the reader keeps the surer candidate


@pytest.mark.parametrize("first, last", [(1, 4), (5, 8), (3, 7)])
def test_two_digits_drawn_at_the_two_ends_of_the_number_canvas_read_as_one_number(real_client, mnist_test, first, last):
    # A stranger drew a "1" and a "4" 80 px in from the two ends of the page's number canvas (280x140 as posted):
    # the line finder took them for two lines, 3 digit heights apart, and the page answered "4" at over 99.9%.
    images, labels = mnist_test
    ink = np.zeros((140, 280), np.uint8)
    for digit, left in ((first, 20), (last, 200)):
        glyph = images[int(np.flatnonzero(labels == digit)[0])]
        ink[40:96, left : left + 56] = np.asarray(Image.fromarray(glyph).resize((56, 56), Image.Resampling.BILINEAR))
    rgba = np.zeros((140, 280, 4), np.uint8)
    rgba[..., 3] = ink  # black ink on a transparent canvas, as the page posts it
    body = real_client.post("/predict?mode=number", data=encode_png(rgba), content_type="image/png").get_json()
    assert body["number"] == f"{first}{last}", body["text"]
    assert len(body["digits"]) == 2 and body["digits"][0]["box"][0] < 80 <= 180 < body["digits"][1]["box"][0]


@pytest.mark.parametrize("text, rise", [("7142", 0.75), ("2026", -0.6), ("385", 1.0)])
def test_a_number_drawn_uphill_or_downhill_reads_in_order(real_client, mnist_test, text, rise):
    # A stranger wrote 7142 steeply uphill on the number canvas, each digit well above the last, and read "7914":
    # the line's box was as tall as the staircase, so each digit shrank to a few pixels, and the last digits' bands
    # missed the first's. ``rise``: how far each digit stands above the last, in digit heights (down when < 0).
    images, labels = mnist_test
    height, gap = 36, 8
    ink = np.zeros((140, 280), np.uint8)
    x, bottom = 40, 130 if rise > 0 else 10 + height
    lefts = []
    for k, char in enumerate(text):
        glyph = images[int(np.flatnonzero(labels == int(char))[k])]
        glyph = np.asarray(Image.fromarray(glyph).resize((height, height), Image.Resampling.BILINEAR))
        glyph = glyph[:, np.flatnonzero(glyph.max(axis=0) > 40)]
        top = round(bottom - height - k * rise * height)
        ink[top : top + height, x : x + glyph.shape[1]] = glyph
        lefts.append(x)
        x += glyph.shape[1] + gap
    rgba = np.zeros((140, 280, 4), np.uint8)
    rgba[..., 3] = ink  # black ink on a transparent canvas, as the page posts it
    body = real_client.post("/predict?mode=number", data=encode_png(rgba), content_type="image/png").get_json()
    assert body["number"] == text, body["text"]
    boxes = [digit["box"] for digit in body["digits"]]  # each on its digit, as drawn (not as levelled)
    assert [round((box[0] + box[2] / 2 - left) / (height + gap)) for box, left in zip(boxes, lefts)] == [0] * len(text)
    tops = [box[1] for box in boxes]
    assert tops == sorted(tops, reverse=rise > 0)


def test_numbers_photographed_at_an_angle_are_levelled_before_they_are_read(real_client, mnist_test):
    # Paper is photographed askew and numbers are written uphill: a line 10 degrees off level stood in a box as tall
    # as its slope, and each digit shrank (the reader learnt lines within 4 degrees of level).
    images, labels = mnist_test
    rng = np.random.default_rng(31)
    right = 0
    for k in range(36):
        text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 7))))
        ink = write_line(text, rng, (images, labels), part="eval")
        turn = 10 if rng.random() < 0.5 else -10
        ink = np.asarray(Image.fromarray(ink).rotate(turn, Image.Resampling.BILINEAR, expand=True), np.float32)
        data = scene(ink, rng, ("paper", "small photo", "scan")[k % 3])
        body = real_client.post("/predict?mode=number", data=data, content_type="image/jpeg").get_json()
        right += body.get("number") == text
    assert right >= 18, right  # 13 of 36 read right before lines were levelled, 20 since


@pytest.mark.parametrize("where, mode", [("query", "sideways"), ("json", 7), ("form", "")])
def test_a_bad_mode_is_a_400_json_error(client, mnist_test, where, mode):
    png = encode_png(number_image("42", 1, mnist_test))
    if where == "query":
        response = client.post(f"/predict?mode={mode}", data=png, content_type="image/png")
    elif where == "json":
        response = client.post("/predict", json={"image": base64.b64encode(png).decode(), "mode": mode})
    else:
        response = client.post("/predict", data={"image": (io.BytesIO(png), "n.png"), "mode": mode})
    assert response.status_code == 400
    assert "mode" in response.get_json()["error"]


def test_modes_that_disagree_are_a_400_and_the_same_mode_twice_is_read(client, mnist_test):
    # A helper's finding (2026-12-06): ?mode=digit&mode=bogus was read in mode digit, the second mode ignored.
    png = encode_png(number_image("42", 1, mnist_test))
    data_url = base64.b64encode(png).decode()
    disagree = [
        client.post("/predict?mode=digit&mode=bogus", data=png, content_type="image/png"),
        client.post("/predict?mode=digit", json={"image": data_url, "mode": "number"}),
        client.post("/predict", data={"image": (io.BytesIO(png), "n.png"), "mode": ["number", "digit"]}),
    ]
    for response in disagree:
        assert response.status_code == 400
        assert "given once or the same each time" in response.get_json()["error"]
    same = client.post("/predict?mode=number", json={"image": data_url, "mode": "number"})
    unset = client.post("/predict", json={"image": data_url, "mode": None})  # JSON null: no mode given
    assert same.status_code == 200 and unset.status_code == 200


def test_the_mode_chooses_the_reader(real_client, mnist_test):
    png = encode_png(number_image("2026", 5, mnist_test))
    for mode, reader in (("number", "strings"), ("digit", "segments")):
        body = real_client.post(f"/predict?mode={mode}", data=png, content_type="image/png").get_json()
        assert body["reader"] == reader, mode
    body = real_client.post("/predict", data=png, content_type="image/png").get_json()
    assert body["reader"] == "strings" and body["number"] == "2026"


def test_one_digit_in_number_mode_is_read_by_the_segments_with_their_confidence(real_client, mnist_test):
    # A stranger's 7 in number mode: the string reader read it at 99.8%, under its cheque-grade bar, so the page
    # said "not sure enough" of a clear 7 that digit mode read at over 99.9%. One digit is the segments' to read.
    images, labels = mnist_test
    rgba = np.zeros((140, 280, 4), np.uint8)
    glyph = images[int(np.flatnonzero(labels == 7)[0])]
    rgba[30:110, 100:180, 3] = np.asarray(Image.fromarray(glyph).resize((80, 80), Image.Resampling.BILINEAR))
    body = real_client.post("/predict?mode=number", data=encode_png(rgba), content_type="image/png").get_json()
    assert (body["reader"], body["number"], body["low_confidence"]) == ("segments", "7", False)
    digit = real_client.post("/predict?mode=digit", data=encode_png(rgba), content_type="image/png").get_json()
    assert body["confidence"] == digit["confidence"]


def test_a_price_keeps_its_decimal_point(real_client, mnist_test):
    body = real_client.post(
        "/predict", data=encode_png(number_image("37.50", 11, mnist_test)), content_type="image/png"
    ).get_json()
    assert (body["text"], body["number"]) == ("37.50", "3750")
    assert len(body["digits"]) == 4 and len(body["skipped"]) == 1


@pytest.mark.xfail(
    strict=True,
    reason="issue 21: the string reader reads this line '45078' (the 6 as a 0, the faint 8 "
    "over the 7 lost); kept so the day it reads right is seen",
)
def test_touching_digits_on_ruled_paper_read_right(real_client, mnist_test):
    images, labels = mnist_test
    rng = np.random.default_rng(45678)
    ink = None
    for _ in range(20):  # a line whose 7 and 8 touch: written tight until they do
        ink = write_line("45678", rng, (images, labels), part="eval")
        columns = (ink > 0.3).any(axis=0)
        runs = np.flatnonzero(np.diff(columns.astype(int)) == 1).size + columns[0]
        if runs <= 4:
            break
    assert runs <= 4
    height, width = ink.shape
    page = np.clip(0.93 - 0.8 * ink, 0, 1)
    for y in range(int(height * 0.78), height, max(8, height // 2)):
        page[y : y + 2] = 0.55  # ruled lines across the sheet
    data = encode(Image.fromarray(np.round(page * 255).astype(np.uint8)), "JPEG", quality=85)
    assert real_client.post("/predict", data=data, content_type="image/jpeg").get_json()["number"] == "45678"


@pytest.mark.xfail(
    strict=True,
    reason="issue 21: the line is found beside the larger cross now, but Otsu's threshold "
    "in the photo path cuts the faint bar of the 14 px 7, read '311'",
)
def test_a_small_row_number_inside_a_scanned_crop_reads_right(real_client, mnist_test):
    number = number_image("317", 8, mnist_test, height=34)
    page = np.full((140, 520), 228, np.uint8)
    page[:, :40] = 15  # the scanner's margin
    page[:, 200:203] = 60  # the register's column rule
    page[55 : 55 + number.shape[0], 90 : 90 + min(number.shape[1], 100)] = number[:, :100]
    image = Image.fromarray(page)
    ImageDraw.Draw(image).line([(430, 50), (455, 80)], fill=20, width=3)  # a cross in the next column
    ImageDraw.Draw(image).line([(430, 80), (455, 50)], fill=20, width=3)
    data = encode(image, "JPEG", quality=80)
    body = real_client.post("/predict?mode=number", data=data, content_type="image/jpeg").get_json()
    assert body["number"] == "317"


@pytest.mark.xfail(
    strict=True,
    reason="issue 21: the shipped reader drops a leading minus (0 of 30 such canvases); one trained with --signed "
    "read 10 of the 30 and ranked its real amounts' errors worse (docs/experiments.md, 2026-12-07)",
)
def test_a_minus_sign_drawn_before_a_number_is_read_with_it(real_client, mnist_test):
    # A stranger drew "-15" in number mode and read "15" at over 99.9%: no training line began with a minus.
    images, labels = mnist_test
    rng = np.random.default_rng(15)
    dash = np.zeros((28, 28), np.uint8)
    dash[13:16, 5:21] = 255  # a short bar at mid-height, as a minus is drawn
    read = []
    for _ in range(20):
        chosen = rng.integers(0, len(labels), int(rng.integers(1, 4)))
        page = compose_number([dash] + [images[i] for i in chosen], rng)
        body = real_client.post("/predict?mode=number", data=encode_png(page), content_type="image/png").get_json()
        want = "-" + "".join(str(labels[i]) for i in chosen)
        read.append((body["text"], body["number"]) == (want, want[1:]))
    assert sum(read) >= 16, read  # the number keeps its digits alone, for the clients that read only those


def test_boxes_are_in_the_pixels_of_a_large_photo(real_client, mnist_test):
    number = number_image("2026", 9, mnist_test, height=600)
    page = np.full((3000, 4000), 240, np.uint8)
    top, left = 1200, 900
    page[top : top + number.shape[0], left : left + number.shape[1]] = number
    data = encode(Image.fromarray(page), "JPEG", quality=90)
    body = real_client.post("/predict", data=data, content_type="image/jpeg").get_json()
    assert body["number"] == "2026"
    for digit in body["digits"]:
        x, y, w, h = digit["box"]
        assert left - 20 <= x and x + w <= left + number.shape[1] + 20
        assert top - 20 <= y and y + h <= top + number.shape[0] + 20
        assert h >= 200  # the box of a 600 px tall number, not of the server's reduced copy
    xs = [d["box"][0] for d in body["digits"]]
    assert xs == sorted(xs)


@pytest.mark.slow
def test_training_the_string_reader_on_a_small_sample_writes_a_servable_model_and_its_record(tmp_path, mnist_test):
    """The one command's code path end to end, from fresh weights on a tiny config (batches drawn by width, the
    spliced lines sorted in, a second phase on mostly real amounts): the model, its record (config, commit, held-out
    amounts, threshold, the first phase's record) and a .tflite that the server's loader accepts, served through lines
    found finer as it was trained on them, with lines that hold no number among them."""
    from training import strings as training_strings

    output = tmp_path / "new folder" / "digit_strings.keras"  # made by the run
    config = {
        "synthetic": 64,
        "real_variants": 2,
        "holdout": 20,
        "steps": 4,
        "batch_size": 8,
        "splice": 16,
        "bucket": 2,
        "real_steps": 2,
        "real_phase_share": 0.6,
        "lines": "finer",  # a small photo's line found again finer, in training and when served
        "empty": 4,  # lines that hold no number, from 4 scenes and the trainable blank Sudoku cells
        "empty_share": 0.25,
        "cells": 8,  # real digit cells of sudoku_cells_train composed into strings
        "cells_share": 0.25,
    }
    logged = []
    record = training_strings.train_strings(output, config, work_dir=tmp_path / "work", log=logged.append)
    assert any("spliced added" in line for line in logged)  # real amounts recombined halfway
    assert record["no_number_lines"] > 0 and record["cell_lines"] > 0 and record["config"]["lines"] == "finer"
    assert output.exists() and record["config"]["steps"] == 4 and len(record["holdout_indices"]) == 20
    assert any(line.startswith("second phase") for line in logged) and record["config"]["real_steps"] == 2
    first = record["first_phase"]  # the phase on mostly real amounts starts from the first one's weights
    assert first["config"]["steps"] == 4 and first["holdout_indices"] == record["holdout_indices"]
    phase = record["second_phase"]  # its own settings: the share given, at most the first phase's synthetic lines
    assert (phase["steps"], phase["real_share"], phase["synthetic"]) == (2, 0.6, 64)
    assert phase["data_seed"] == training_strings.CONFIG["seed"] + 1
    record = training_strings.choose_threshold(output)
    assert 0.0 <= record["holdout_exact"] <= 1.0 and 0.0 <= record["holdout_read_rate"] <= 1.0
    saved = json.loads(output.with_suffix(".json").read_text())
    assert saved["threshold"] == record["threshold"] and saved["commit"]
    tflite = training_strings.convert_strings(output, output.with_suffix(".tflite"))
    reader = load_string_reader(tflite)  # checks the output on a blank line and a stroke
    assert reader.threshold == pytest.approx(record["threshold"]) and reader.finer  # served as it was trained
    reading = reader.read(np.asarray(number_image("90", 2, mnist_test), np.float32) / 255)
    assert reading.reader == "strings" and reading.string_confidence is not None


@pytest.mark.slow
def test_a_reader_with_a_recurrent_layer_is_served_with_the_probabilities_keras_gives(tmp_path):
    """A bidirectional LSTM over the frames (``--recurrent``) converts to LiteRT only with the batch fixed: the served
    file must accept any line width and give the Keras model's probabilities at each, a backward LSTM included."""
    import keras

    from training.string_steps import keras_probabilities
    from training.strings import build_string_model, convert_strings

    keras.utils.set_random_seed(3)
    model = build_string_model((4, 8, 8, 8, 8), frame_units=16, recurrent=8)
    output = tmp_path / "digit_strings.keras"
    model.save(output)
    reader = load_string_reader(convert_strings(output, tmp_path / "digit_strings.tflite"))
    rng = np.random.default_rng(3)
    for width in (32, 200, 512):  # a frame's probabilities depend on the whole line, so each width is checked
        line = rng.random((1, LINE_HEIGHT, width, 1), dtype=np.float32)
        served = reader.backend.predict(line)
        assert served.shape == (1, width // LINE_STRIDE, NUM_STRING_CLASSES)
        np.testing.assert_allclose(served, keras_probabilities(model, line), atol=1e-5)


def test_each_digit_of_a_number_is_boxed_where_its_ink_is(real_client, mnist_test):
    # CTC marks a character by a spike over part of it: the boxes must still hold each digit's whole ink.
    image = number_image("174", 1, mnist_test, height=120)
    found = label_components(image < 128)
    inks = sorted((int(x), int(x + w)) for (x, _, w, _), area in zip(found.boxes[1:], found.areas[1:]) if area > 30)
    assert len(inks) == 3  # three separate digits
    body = real_client.post("/predict?mode=number", data=encode_png(image), content_type="image/png").get_json()
    assert body["number"] == "174"
    for (left, right), digit in zip(inks, body["digits"]):
        x, _, w, _ = digit["box"]
        assert x <= left + 3 and x + w >= right - 3  # the whole digit
        assert w <= (right - left) * 1.25  # and not its neighbours
    images = [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(d["preprocessed"].split(",", 1)[1])))) for d in body["digits"]
    ]
    assert all(i.shape == (28, 28) for i in images)  # each digit's own 28x28, for the page to show beside it
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])


def spaced_number(digits: list[np.ndarray], gap: float, height: int = 60) -> tuple[bytes, list[tuple[int, int]]]:
    """The page's number canvas (280x140 PNG, black ink on transparent) with MNIST digits ``height`` px tall,
    ``gap`` x ``height`` apart: its bytes and each digit's ink columns (first, last) in the canvas."""
    ink = np.zeros((140, 280), np.uint8)
    crops = []
    for digit in digits:
        glyph = np.asarray(Image.fromarray(digit).resize((height, height), Image.Resampling.BILINEAR))
        cols = np.flatnonzero(glyph.max(axis=0) > 40)
        crops.append(glyph[:, cols[0] : cols[-1] + 1])
    x = (280 - sum(c.shape[1] for c in crops) - round(gap * height) * (len(crops) - 1)) // 2
    spans = []
    for crop in crops:
        region = ink[40 : 40 + height, x : x + crop.shape[1]]
        np.maximum(region, crop, out=region)
        spans.append((x, x + crop.shape[1] - 1))
        x += crop.shape[1] + round(gap * height)
    rgba = np.zeros((140, 280, 4), np.uint8)
    rgba[..., 3] = ink
    return encode_png(rgba), spans


def test_a_number_drawn_with_wide_gaps_reads_no_invented_separators_and_boxes_each_digit(real_client, mnist_test):
    # A stranger's finding (2026-12-06): "4185" drawn in four equal columns of the page's number canvas read
    # "4.185"; numbers drawn with gaps of half a digit's height or more read a separator into the gaps half the
    # time (the reader learnt gaps of at most 0.45 of the height). A drawing's wide gaps are now shortened.
    images, labels = mnist_test
    rng = np.random.default_rng(4185)
    exact, invented = 0, 0
    for _ in range(20):
        picks = rng.integers(0, len(images), int(rng.integers(3, 5)))
        data, spans = spaced_number([images[i] for i in picks], gap=0.6)
        body = real_client.post("/predict?mode=number", data=data, content_type="image/png").get_json()
        invented += any(not c.isdigit() for c in body["text"])
        if body["number"] == "".join(str(labels[i]) for i in picks):
            exact += 1
            for digit, (first, last) in zip(body["digits"], spans):
                x, _, w, _ = digit["box"]
                assert x <= (first + last) / 2 <= x + w, (digit["box"], first, last)  # the box is over its digit
    assert invented <= 1
    assert exact >= 18


def test_a_drawing_keeps_gaps_up_to_half_its_height_and_maps_boxes_back_across_shortened_ones():
    ink = np.zeros((100, 400), np.float32)
    ink[30:70, 20:40] = 1.0  # a mark 40 px tall
    ink[30:70, 55:75] = 1.0  # 15 px on: a gap under half the height, kept
    ink[30:70, 125:145] = 1.0  # 50 px on: shortened to 20 px (half the height)
    drawing = find_line(1.0 - ink)  # dark ink on white, as a drawing
    assert drawing.columns is not None and len(drawing.columns) == (145 - 20) - (50 - 20)
    last_ink = np.flatnonzero(drawing.image.max(axis=0) > 0.5)[-1]
    x, _, w, _ = drawing.columns_to_box(last_ink - 4, last_ink)
    assert 125 <= x and x + w <= 145  # the right mark's box, in the image's own pixels
    paper = np.clip(0.75 - 0.6 * ink + np.random.default_rng(0).normal(0, 0.03, ink.shape), 0, 1)
    assert clean_ink(paper).photo
    assert all(line.columns is None for line in find_lines(paper))  # a photo keeps its gaps (a lost faint "/")


def test_a_soft_edge_goes_with_the_stroke_beside_it_as_pillows_max_filter_says():
    # A levelled line moves each stroke with the faint pixels around it: the largest label within two pixels, as
    # Pillow's MaxFilter(5) over the crop gives it (the filter itself took up to 0.2 s a line on a 1024 px image).
    rng = np.random.default_rng(5)
    for shape in [(37, 53), (5, 3), (1, 40), (60, 1)]:
        labels = np.where(rng.random(shape) < 0.2, rng.integers(1, 150_000, shape), 0).astype(np.int32)
        rows, cols = np.nonzero(rng.random(shape) < 0.5)
        filtered = np.asarray(Image.fromarray(labels).filter(ImageFilter.MaxFilter(5)))
        expected = np.where(labels == 0, filtered, labels)[rows, cols]
        assert np.array_equal(owners_of(labels, rows, cols), expected)

"""Numbers, photos of paper and non-digits through the request path with the committed model."""

from __future__ import annotations

import numpy as np
import pytest

import evaluation
from recognizer import read


def test_composed_numbers_of_two_to_six_digits_are_read_back(litert_model):
    report = evaluation.evaluate_numbers(litert_model, count=100, seed=7)
    assert report.refused == 0
    assert report.accuracy >= 0.65  # 76.4% on 500 (README); a number is right only if every digit is
    assert report.per_class[2] >= 0.8  # two digits


def test_a_number_with_clear_gaps_is_read_digit_by_digit_with_boxes(litert_model, mnist_test):
    images, labels = mnist_test
    picks = [3, 2, 1, 18]  # MNIST test digits 0, 1, 2, 3
    number = np.full((40, 4 * 44), 255, np.uint8)
    for slot, i in enumerate(picks):
        number[6:34, 8 + 44 * slot: 36 + 44 * slot] = 255 - images[i]
    reading = read.predict_image(evaluation.png_bytes(number), litert_model)
    assert reading.number == "".join(str(labels[i]) for i in picks)
    for slot, digit in enumerate(reading.digits):
        x, _, w, _ = digit.box
        assert 8 + 44 * slot <= x and x + w <= 36 + 44 * slot


def test_synthetic_photos_of_digits_on_paper_are_read(litert_model):
    report = evaluation.evaluate_photos(litert_model, count=60, seed=3)
    assert report.refused == 0
    assert report.accuracy >= 0.95  # 99.0% on 300 (README)


def test_the_low_confidence_flag_fires_on_non_digits_far_more_than_on_digits(litert_model):
    report = evaluation.evaluate_low_confidence(litert_model, count=120, digits=400,
                                                thresholds=(read.LOW_CONFIDENCE_THRESHOLD,))
    flagged = report.on_non_digits[read.LOW_CONFIDENCE_THRESHOLD]
    assert np.mean(list(flagged.values())) >= 0.2  # 31.8% of 400 non-digits (README)
    assert report.on_digits[read.LOW_CONFIDENCE_THRESHOLD] <= 0.02  # 0.5% of 2,000 digits


@pytest.mark.parametrize("background", ["white", "black"])
def test_a_thick_digit_filling_its_frame_keeps_its_polarity(litert_model, background):
    usps, labels = evaluation.load_usps()
    zeros = [i for i in range(len(labels)) if labels[i] == 0 and np.mean(usps[i] > 127) > 0.45][:5]
    assert zeros, "USPS has zeros whose ink covers nearly half the frame"
    for i in zeros:
        image = 255 - usps[i] if background == "white" else usps[i]
        assert read.predict_image(evaluation.png_bytes(image), litert_model).number == "0"

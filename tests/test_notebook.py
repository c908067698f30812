"""train_model.ipynb runs headless on a small sample, writing only into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from recognizer import mnist
from training.network import HISTORY_FILENAME

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_notebook_trains_plots_and_saves_artefacts_on_a_small_sample(tmp_path, monkeypatch):
    committed = mnist.KERAS_MODEL_PATH.read_bytes()
    monkeypatch.setenv("TRAIN_EPOCHS", "1")
    monkeypatch.setenv("TRAIN_MEMBERS", "1")
    monkeypatch.setenv("TRAIN_LIMIT", "2000")
    monkeypatch.setenv("TRAIN_EXTRA_SCALE", "0.001")
    monkeypatch.setenv("USPS_LIMIT", "100")
    monkeypatch.setenv("OUTPUT_DIR", str(tmp_path / "artefacts"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(ROOT / "train_model.ipynb", as_version=4)
    NotebookClient(notebook, timeout=110, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 5  # samples, augmentation, curves, confusion matrix, misclassified digits
    text = "".join(o.get("text", "") for o in outputs)
    assert "MNIST test accuracy" in text and "USPS test accuracy" in text
    for name in ("mnist_cnn.h5", "mnist_cnn.tflite", HISTORY_FILENAME):
        assert (tmp_path / "artefacts" / name).is_file()
    assert mnist.KERAS_MODEL_PATH.read_bytes() == committed

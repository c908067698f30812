"""Fixtures chained app -> client, with a fake model for route tests and the committed one for the rest."""

from __future__ import annotations

import numpy as np
import pytest

import datasets
from app import create_app
from recognizer import backends


class FakeModel:
    """A stand-in backend: always answers 3 with probability 0.91, for tests of the routes alone."""

    name = "fake"
    path = "fake.tflite"

    def __init__(self):
        self.batches = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch)
        probabilities = np.full((len(batch), 10), 0.01, np.float32)
        probabilities[:, 3] = 0.91
        return probabilities


@pytest.fixture(scope="session", autouse=True)
def session_database(tmp_path_factory):
    """Apps made once per session store corrections in a temporary SQLite file, never in ./instance."""
    import os

    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'corrections.sqlite3'}"
    yield
    if saved is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = saved


@pytest.fixture(autouse=True)
def test_database(tmp_path, monkeypatch):
    """Each test's apps get their own empty SQLite database (a test may still set DATABASE_URL itself)."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'corrections.sqlite3'}")


@pytest.fixture
def fake_model():
    return FakeModel()


@pytest.fixture
def app(fake_model):
    return create_app({"MODEL": fake_model, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def litert_model():
    """The committed mnist_cnn.tflite behind mnist_cnn_int8.tflite, as the server loads them."""
    return backends.load_backend("litert")


@pytest.fixture(scope="session")
def real_client(litert_model):
    return create_app({"MODEL": litert_model, "TESTING": True}).test_client()


@pytest.fixture(scope="session")
def mnist_test():
    """MNIST's test set: uint8 (10000, 28, 28) images (ink = 255) and uint8 labels."""
    _, (images, labels) = datasets.load_mnist()
    return images, labels


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the whole session: Playwright's sync API allows one driver at a time."""
    from playwright.sync_api import sync_playwright

    from page_driver import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()

"""POST /corrections against SQLite and a real PostgreSQL: what is stored, what is refused, the limits,
the database down, migrations, the export, the download, two gunicorn workers, and retraining."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import create_engine, event, inspect, make_url, select, text
from sqlalchemy.exc import OperationalError

import model
from app import create_app
from bench.postgres_server import find_bin_dir, running as running_postgres
from client_input import ClientError
from corrections import Correction, database_uri, db, hooks_for_blueprint_only
from corrections.breaker import Breaker, Open
from corrections.routes import LOCK_KEY
from synth.canvas import canvas_from_mnist, encode
from synth.digits import stroke_digit
from training.digits import load_extra_data
from training.network import HISTORY_FILENAME

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = {
    "id",
    "created_at",
    "label",
    "number",
    "number_text",
    "image",
    "image_type",
    "image_size",
    "inputs",
    "input_count",
    "reading",
    "confidence",
    "model_sha256",
    "image_sha256",
    "secret_sha256",
}


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server from Debian's package for the whole session.

    CI installs it; elsewhere the tests that need it are skipped without it."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI needs PostgreSQL's pg_ctl: apt-get install -y postgresql")
        pytest.skip("no pg_ctl (apt-get install -y postgresql)")
    with running_postgres(bin_dir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'corrections.sqlite3'}"
    else:
        with request.getfixturevalue("postgres").database() as url:
            yield url


class AnySecret:
    """Equal to any secret the API answers: a URL-safe string of at least 128 bits."""

    def __eq__(self, other):
        return isinstance(other, str) and len(other) >= 22 and other.replace("-", "").replace("_", "").isalnum()


ANY_SECRET = AnySecret()
# Tests of one database call's own bound, or of what a failed call stored, turn the breaker off: with it on, the
# correction after a failure is refused for the cool-down without reaching the database (tested on its own).
BREAKER_OFF = {"CORRECTIONS_BREAKER_SECONDS": 0}


def make_app(fake_model, url, **config):
    return create_app(
        {
            "MODEL": fake_model,
            "TESTING": True,
            "CORRECTIONS_AUTO_UPGRADE": True,
            "SQLALCHEMY_DATABASE_URI": database_uri(url, "/unused"),
            **config,
        }
    )


@pytest.fixture
def app(fake_model, database_url):
    return make_app(fake_model, database_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def png():
    return encode(stroke_digit(7))


def data_url(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def drawing(i: int, digit: int = 7) -> bytes:
    """A drawn ``digit`` whose bytes differ for each ``i`` (a PNG text chunk), so it is never a duplicate."""
    info = PngInfo()
    info.add_text("n", str(i))
    return encode(stroke_digit(digit), pnginfo=info)


def json_body(i: int, label=7) -> dict:
    """A correction of ``drawing(i)``: distinct for each ``i``."""
    return {"image": data_url(drawing(i)), "label": label}


def rows(app) -> list[Correction]:
    with app.app_context():
        found = db.session.scalars(select(Correction).order_by(Correction.id)).all()
        db.session.expunge_all()
        return found


def assert_error(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert isinstance(message, str) and len(message) > 20
    return message


def test_a_correction_stores_the_image_the_label_and_the_servers_own_reading(app, client, png, fake_model):
    before = datetime.now(UTC)
    response = client.post("/corrections", json={"image": data_url(png), "label": 7})
    assert response.status_code == 201 and response.get_json() == {"id": 1, "secret": ANY_SECRET}
    assert "Set-Cookie" not in response.headers
    [row] = rows(app)
    assert row.label == 7 and row.image == png and row.image_type == "image/png" and row.image_size == len(png)
    assert row.image_sha256 == hashlib.sha256(png).hexdigest()
    # The reading is the server's (the fake model says 3 at 0.91), and the inputs are what it saw.
    assert row.reading == "3" and row.confidence == pytest.approx(0.91)
    seen = fake_model.batches[-1][:, :, :, 0]
    assert row.input_count == 1
    np.testing.assert_allclose(row.input_images() / 255.0, seen, atol=1 / 255)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    # Nothing about the person: no column beyond these, and no address in any of them.
    with app.app_context():
        assert {c["name"] for c in inspect(db.engine).get_columns("corrections")} == COLUMNS
    assert not any("127.0.0.1" in str(getattr(row, c)) for c in COLUMNS)


def test_multipart_and_not_a_digit_stored_as_10(app, client, png):
    response = client.post(
        "/corrections",
        data={"image": (io.BytesIO(png), "d.png"), "label": "not_a_digit"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert [r.label for r in rows(app)] == [10]


def test_the_stored_model_hash_is_the_served_files(tmp_path, litert_model, png):
    app = create_app({"MODEL": litert_model, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'c.sqlite3'}"})
    assert app.test_client().post("/corrections", json={"image": data_url(png), "label": "7"}).status_code == 201
    [row] = rows(app)
    assert row.model_sha256 == hashlib.sha256(Path(litert_model.path).read_bytes()).hexdigest()
    assert row.reading == "7" and 0 < row.confidence <= 1


@pytest.mark.parametrize("label", [10, -1, 7.0, True, None, "", "seven", "10", "not a digit", [7]])
def test_a_bad_label_is_a_400_and_stores_nothing(app, client, png, label):
    message = assert_error(client.post("/corrections", json={"image": data_url(png), "label": label}), 400)
    assert "label" in message
    assert rows(app) == []


def test_a_missing_label_is_a_400(app, client, png):
    assert_error(client.post("/corrections", json={"image": data_url(png)}), 400)
    assert_error(
        client.post("/corrections", data={"image": (io.BytesIO(png), "d.png")}, content_type="multipart/form-data"), 400
    )
    assert rows(app) == []


def blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (140, 140), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"image": "not base64 at all!", "label": 1}}, 400),
        ({"json": {"image": "data:text/plain;base64,aGVsbG8=", "label": 1}}, 400),
        ({"json": {"image": base64.b64encode(b"GIF89a" + b"\0" * 40).decode(), "label": 1}}, 400),
        ({"json": {"label": 1}}, 400),
        ({"json": ["image", 1]}, 400),
        ({"data": {"label": "1"}, "content_type": "multipart/form-data"}, 400),
        ({"data": b"\x89PNG...", "content_type": "image/png"}, 415),
        ({"json": {"image": base64.b64encode(blank_png()).decode(), "label": 1}}, 422),
    ],
)
def test_a_bad_image_is_a_4xx_and_stores_nothing(app, client, kwargs, status):
    assert_error(client.post("/corrections", **kwargs), status)
    assert rows(app) == []


def test_an_oversized_image_is_a_413_and_stores_nothing(app, client):
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(2 * 1024 * 1024)
    assert_error(
        client.post(
            "/corrections",
            data={"image": (io.BytesIO(big), "big.png"), "label": "1"},
            content_type="multipart/form-data",
        ),
        413,
    )
    assert_error(client.post("/corrections", json={"image": base64.b64encode(big).decode(), "label": 1}), 413)
    assert rows(app) == []


def test_the_rate_limit_is_per_client_and_leaves_predict_alone(fake_model, database_url, png):
    app = make_app(fake_model, database_url, CORRECTIONS_RATE_LIMIT="3 per minute", CORRECTIONS_TRUSTED_PROXIES=1)
    client = app.test_client()
    alice, bob = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    statuses = [client.post("/corrections", json=json_body(i), headers=alice).status_code for i in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = client.post("/corrections", json=json_body(4), headers=alice)
    assert "wait" in assert_error(refused, 429)
    assert client.post("/predict", data=png, content_type="image/png", headers=alice).status_code == 200
    assert client.post("/corrections", json=json_body(5), headers=bob).status_code == 201
    assert len(rows(app)) == 4


def test_an_extensions_app_wide_hooks_run_for_its_blueprint_alone():
    """The Limiter's hooks are moved this way: /predict no longer pays them, the corrections keep them in order."""
    from functools import partial

    from flask import Blueprint, Flask

    calls = []

    class Extension:
        def before(self):
            calls.append("before")

        def teardown(self, _error=None):
            calls.append("teardown")

    def after(extension, response):
        calls.append("after")
        return response

    app, extension = Flask(__name__), Extension()
    app.after_request(lambda response: calls.append("app after") or response)  # registered first: runs last
    app.before_request(extension.before)
    app.after_request(partial(after, extension))
    app.teardown_request(extension.teardown)
    app.before_request(lambda: calls.append("app before"))
    blueprint = Blueprint("limited", __name__)
    blueprint.get("/limited")(lambda: "limited")
    app.register_blueprint(blueprint)
    app.get("/free")(lambda: "free")
    hooks_for_blueprint_only(app, extension, "limited")

    client = app.test_client()
    assert client.get("/free").status_code == 200
    assert calls == ["app before", "app after"]
    calls.clear()
    assert client.get("/limited").status_code == 200
    assert calls == ["app before", "before", "after", "app after", "teardown"]


def test_the_same_correction_sent_twice_is_stored_once(fake_model, database_url):
    app = make_app(fake_model, database_url, CORRECTIONS_MAX_ROWS=3)
    client = app.test_client()
    first = client.post("/corrections", json=json_body(0))
    assert first.status_code == 201 and first.get_json() == {"id": 1, "secret": ANY_SECRET}
    again = client.post("/corrections", json=json_body(0))  # a retry, or a person pressing twice
    assert again.status_code == 200 and again.get_json() == {"id": 1, "duplicate": True}
    multipart = client.post(
        "/corrections",
        data={"image": (io.BytesIO(drawing(0)), "d.png"), "label": "7"},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 200 and multipart.get_json()["id"] == 1
    # Another label for the same drawing, or the same label for other bytes, is another correction.
    assert client.post("/corrections", json=json_body(0, label=1)).status_code == 201
    assert client.post("/corrections", json=json_body(1)).status_code == 201
    # The store is full now (3 rows), and a duplicate is still answered as the first try was.
    assert client.post("/corrections", json=json_body(0)).get_json() == {"id": 1, "duplicate": True}
    assert_error(client.post("/corrections", json=json_body(2)), 503)
    assert [(r.id, r.label) for r in rows(app)] == [(1, 7), (2, 1), (3, 7)]


def padded_drawing(i: int, kilobytes: int) -> bytes:
    """``drawing(i)`` with about ``kilobytes`` KB of text chunk: a large upload that is still a drawn 7."""
    info = PngInfo()
    info.add_text("pad", f"{i:08d}" * (kilobytes * 128))
    return encode(stroke_digit(7), pnginfo=info)


def test_each_client_has_a_daily_budget_of_stored_bytes(fake_model, database_url):
    # The repro: one client filled the whole 200 MB store in about 5 minutes, within the rate limit.
    app = make_app(
        fake_model,
        database_url,
        CORRECTIONS_CLIENT_MB_PER_DAY=1,
        CORRECTIONS_TRUSTED_PROXIES=1,
        CORRECTIONS_RATE_LIMIT="100 per minute",
    )
    client = app.test_client()
    alice, bob = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    images = [padded_drawing(i, 300) for i in range(5)]
    assert all(300_000 < len(image) < 320_000 for image in images)

    def post(image, who):
        return client.post("/corrections", json={"image": data_url(image), "label": 7}, headers=who)

    assert [post(image, alice).status_code for image in images[:3]] == [201, 201, 201]  # about 0.9 MB
    assert "today" in assert_error(post(images[3], alice), 429)
    assert post(images[0], alice).status_code == 200  # a duplicate costs nothing and is still answered
    assert post(images[3], bob).status_code == 201  # the budget is per client
    assert [r.image for r in rows(app)] == [*images[:3], images[3]]
    unlimited = make_app(fake_model, database_url, CORRECTIONS_CLIENT_MB_PER_DAY=0, CORRECTIONS_TRUSTED_PROXIES=1)
    assert (
        unlimited.test_client()
        .post("/corrections", json={"image": data_url(images[4]), "label": 7}, headers=alice)
        .status_code
        == 201
    )


def test_a_spoofed_x_forwarded_for_does_not_escape_the_rate_limit(fake_model, database_url):
    # With no proxy in front (0, the default) the header is ignored; behind one proxy (1) only the address the
    # proxy appended counts, so whatever the client put before it changes nothing.
    for hops, headers in [
        (0, lambda i: {"X-Forwarded-For": f"10.0.0.{i}"}),
        (1, lambda i: {"X-Forwarded-For": f"10.0.0.{i}, 203.0.113.5"}),
    ]:
        app = make_app(
            fake_model, database_url, CORRECTIONS_RATE_LIMIT="2 per minute", CORRECTIONS_TRUSTED_PROXIES=hops
        )
        client = app.test_client()
        statuses = [
            client.post("/corrections", json=json_body(10 * hops + i), headers=headers(i)).status_code for i in range(3)
        ]
        assert statuses == [201, 201, 429], hops


def test_wrong_download_tokens_are_rate_limited(fake_model, tmp_path):
    # The repro: 300 wrong tokens were 300 x 401. Only wrong tokens count.
    app = make_app(
        fake_model,
        f"sqlite:///{tmp_path / 'c.sqlite3'}",
        CORRECTIONS_TOKEN="s3cret-token",
        CORRECTIONS_TOKEN_RATE_LIMIT="3 per hour",
        CORRECTIONS_TRUSTED_PROXIES=1,
    )
    client = app.test_client()
    mallory, carol = {"X-Forwarded-For": "203.0.113.66"}, {"X-Forwarded-For": "198.51.100.9"}
    right = {"Authorization": "Bearer s3cret-token"}
    assert [client.get("/corrections/export", headers={**carol, **right}).status_code for _ in range(5)] == [200] * 5
    guesses = [
        client.get("/corrections/export", headers={**mallory, "Authorization": f"Bearer guess{i}"}) for i in range(4)
    ]
    assert [g.status_code for g in guesses] == [401, 401, 401, 429]
    assert "token" in assert_error(guesses[-1], 429)
    assert client.get("/corrections/export", headers={**mallory, **right}).status_code == 429  # for the hour
    assert client.get("/corrections/export", headers={**carol, **right}).status_code == 200


def test_the_row_cap_and_the_storage_cap_answer_503(fake_model, database_url, png):
    app = make_app(fake_model, database_url, CORRECTIONS_MAX_ROWS=2)
    client = app.test_client()
    assert [client.post("/corrections", json=json_body(i, 1)).status_code for i in range(2)] == [201, 201]
    assert "full" in assert_error(client.post("/corrections", json=json_body(2, 1)), 503)
    assert len(rows(app)) == 2

    # The cap counts each row's image and its one 28x28 input: 2 rows already stored, room for one more.
    app = make_app(fake_model, database_url, CORRECTIONS_MAX_BYTES=sum(len(drawing(i)) + 784 for i in range(3)) + 1)
    client = app.test_client()
    assert client.post("/corrections", json=json_body(2, 1)).status_code == 201
    assert_error(client.post("/corrections", json=json_body(3, 1)), 503)
    assert len(rows(app)) == 3


def test_with_no_sqlite_file_possible_predict_answers_and_corrections_is_503(fake_model, png, tmp_path):
    app = make_app(fake_model, f"sqlite:///{tmp_path / 'missing' / 'folder' / 'c.sqlite3'}")  # starts anyway
    client = app.test_client()
    assert client.post("/predict", data=png, content_type="image/png").status_code == 200
    assert "database" in assert_error(client.post("/corrections", json={"image": data_url(png), "label": 7}), 503)
    assert client.get("/healthz").status_code == 200


def test_postgresql_going_down_and_coming_back(fake_model, postgres, png):
    with postgres.database() as url:
        app = make_app(fake_model, url, **BREAKER_OFF)
        client = app.test_client()
        assert client.post("/corrections", json={"image": data_url(png), "label": 7}).status_code == 201
        postgres.stop()
        try:
            assert client.post("/predict", data=png, content_type="image/png").status_code == 200
            assert_error(client.post("/corrections", json={"image": data_url(png), "label": 7}), 503)
            # A fresh app cannot reach it either, and still starts and serves /predict.
            other = make_app(fake_model, url, **BREAKER_OFF).test_client()
            assert other.post("/predict", data=png, content_type="image/png").status_code == 200
            assert_error(other.post("/corrections", json={"image": data_url(png), "label": 7}), 503)
        finally:
            postgres.start()
        assert client.post("/corrections", json=json_body(1)).status_code == 201
        assert len(rows(app)) == 2


class FailingDatabase:
    """Make every statement on ``app``'s engine fail, from its first commit on (``after_commit``) or at it."""

    def __init__(self, app, after_commit: bool):
        self.engine, self.after_commit, self.committed = None, after_commit, False
        with app.app_context():
            self.engine = db.engine

    def fail(self, _connection, statement: str) -> None:
        raise OperationalError(statement, {}, Exception("injected: the connection dropped"))

    def on_commit(self, connection):
        if not self.after_commit:
            return self.fail(connection, "COMMIT")
        self.committed = True  # the DBAPI commit runs right after this hook: any later statement follows it

    def before_execute(self, connection, _cursor, statement, *_args):
        if self.committed:
            self.committed = False  # once
            self.fail(connection, statement)

    def __enter__(self):
        event.listen(self.engine, "commit", self.on_commit)
        event.listen(self.engine, "before_cursor_execute", self.before_execute)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "commit", self.on_commit)
        event.remove(self.engine, "before_cursor_execute", self.before_execute)


class KilledBackend(FailingDatabase):
    """Terminate the PostgreSQL backend of the failing statement (from another connection) instead."""

    def __init__(self, app, after_commit: bool, url: str):
        super().__init__(app, after_commit)
        self.url = url

    def fail(self, connection, _statement: str) -> None:
        pid = connection.connection.driver_connection.info.backend_pid
        killer = create_engine(database_uri(self.url, "/unused"))
        try:
            with killer.connect() as session:  # waits up to 5 s for the backend to exit
                assert session.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)").scalar()
        finally:
            killer.dispose()


def test_a_backend_killed_before_or_after_the_commit_answers_exactly_what_was_stored(fake_model, postgres, png):
    with postgres.database() as url:
        app = make_app(fake_model, url, **BREAKER_OFF)
        client = app.test_client()
        answers = []
        for i, after_commit in enumerate((False, True, False, True)):
            with KilledBackend(app, after_commit, url):
                answers.append(client.post("/corrections", json=json_body(i)))
        assert [a.status_code for a in answers] == [503, 201, 503, 201], answers[1].get_data(as_text=True)
        assert [r.id for r in rows(app)] == [a.get_json()["id"] for a in answers if a.status_code == 201]


def test_a_stored_row_is_answered_201_even_if_the_database_fails_after_the_commit(app, client, png):
    # Nothing is read back after the commit: the id comes from the flush, so a 201 is exactly "stored".
    with FailingDatabase(app, after_commit=True) as failing:
        response = client.post("/corrections", json={"image": data_url(png), "label": 7})
        assert failing.committed
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [(r.id, r.label) for r in rows(app)] == [(response.get_json()["id"], 7)]


def test_a_failure_before_the_commit_is_a_503_and_stores_nothing(fake_model, database_url, png):
    app = make_app(fake_model, database_url, **BREAKER_OFF)
    client = app.test_client()
    with FailingDatabase(app, after_commit=False):
        assert "database" in assert_error(client.post("/corrections", json={"image": data_url(png), "label": 7}), 503)
    assert rows(app) == []
    assert client.post("/corrections", json={"image": data_url(png), "label": 7}).status_code == 201


def test_a_role_that_may_only_insert_gets_201_for_what_it_stored(fake_model, postgres, png):
    # The repro: INSERT, and SELECT of only the columns the caps and the duplicate check read, so
    # reloading the row after the commit fails.
    with postgres.database() as url:
        make_app(fake_model, url)  # the schema, made by the owner
        engine = create_engine(database_uri(url, "/unused"))
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP ROLE IF EXISTS corrections_writer")
            connection.exec_driver_sql("CREATE ROLE corrections_writer LOGIN")
            connection.exec_driver_sql(
                "GRANT INSERT, SELECT (id, label, number_text, image_size, input_count,"
                " image_sha256) ON corrections TO corrections_writer"
            )
            connection.exec_driver_sql("GRANT USAGE ON SEQUENCE corrections_id_seq TO corrections_writer")
        try:
            writer_url = make_url(url).set(username="corrections_writer").render_as_string(hide_password=False)
            writer = make_app(fake_model, writer_url, CORRECTIONS_AUTO_UPGRADE=False).test_client()
            answers = [writer.post("/corrections", json=json_body(i)) for i in range(2)]
            assert [a.status_code for a in answers] == [201, 201], answers[0].get_data(as_text=True)
            with engine.connect() as connection:
                stored = connection.exec_driver_sql("SELECT id FROM corrections ORDER BY id").scalars().all()
            assert stored == [a.get_json()["id"] for a in answers]
        finally:
            engine.dispose()


def test_a_locked_sqlite_database_is_a_503_while_predict_and_reads_still_answer(fake_model, tmp_path, png):
    path = tmp_path / "c.sqlite3"
    app = make_app(fake_model, f"sqlite:///{path}", CORRECTIONS_TOKEN="s3cret-token", **BREAKER_OFF)
    client = app.test_client()
    assert client.post("/corrections", json={"image": data_url(png), "label": 7}).status_code == 201
    holder = sqlite3.connect(path, isolation_level=None)  # another process's writer, holding the lock
    holder.execute("BEGIN IMMEDIATE")
    try:
        message = assert_error(client.post("/corrections", json={"image": data_url(png), "label": 4}), 503)
        assert "database" in message
        assert client.post("/predict", data=png, content_type="image/png").status_code == 200
        # Reads take no write lock: the download and the CLI export still answer while a writer holds it.
        download = client.get("/corrections/export", headers={"Authorization": "Bearer s3cret-token"})
        assert download.status_code == 200 and np.load(io.BytesIO(download.data))["label"].tolist() == [7]
        result = app.test_cli_runner().invoke(args=["corrections", "export", str(tmp_path / "c.npz")])
        assert result.exit_code == 0 and "1 corrections" in result.output
        # A writer gives up within the busy timeout (milliseconds), so a locked file never holds a worker long.
        with app.app_context():
            raw = db.engine.raw_connection()
            try:
                assert 0 < raw.driver_connection.execute("PRAGMA busy_timeout").fetchone()[0] <= 2000
            finally:
                raw.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.post("/corrections", json={"image": data_url(png), "label": 4}).status_code == 201
    assert [r.label for r in rows(app)] == [7, 4]


def test_a_postgresql_lock_held_elsewhere_is_a_503_while_predict_still_answers(fake_model, postgres, png):
    with postgres.database() as url:
        app = make_app(fake_model, url, **BREAKER_OFF)
        client = app.test_client()
        holder = create_engine(database_uri(url, "/unused")).connect()
        holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")  # another writer, stalled
        release = threading.Timer(20, holder.invalidate)  # without a lock_timeout the post would wait forever
        release.start()
        try:
            message = assert_error(client.post("/corrections", json={"image": data_url(png), "label": 7}), 503)
            assert "database" in message
            assert client.post("/predict", data=png, content_type="image/png").status_code == 200
            with app.app_context():
                settings = {
                    name: db.session.execute(text(f"SHOW {name}")).scalar()
                    for name in ("lock_timeout", "statement_timeout")
                }
                params = db.session.connection().connection.driver_connection.info.get_parameters()
                db.session.rollback()
            assert settings["lock_timeout"] not in ("0", "0ms") and settings["statement_timeout"] not in ("0", "0ms")
            assert params.get("keepalives") == "1" and params.get("connect_timeout")
        finally:
            release.cancel()
            holder.rollback()
            holder.close()
            holder.engine.dispose()
        assert client.post("/corrections", json={"image": data_url(png), "label": 7}).status_code == 201
        assert len(rows(app)) == 1


def timed(call) -> tuple[object, float]:
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    print(f"answered {getattr(result, 'status_code', '?')} in {seconds:.2f} s")  # shown with -s
    return result, seconds


STALL_BOUND_S = 2  # issue 24: every stall of the database ends in a 503 within 2 s
STALL_MARGIN_S = 0.5  # measured on 2 shared cores: the 503 itself, and a scheduler that is busy elsewhere


def test_every_database_wait_is_bounded_within_two_seconds():
    # A pooled connection is cut at the deadline; a new one waits connect_timeout at most to connect, and its work
    # is cut at the same deadline (counted from the start); a live server's own timeouts come first.
    from corrections import (
        POSTGRES_CONNECT_SECONDS,
        POSTGRES_LOCK_MS,
        POSTGRES_STATEMENT_MS,
        SQLITE_BUSY_SECONDS,
        deadline,
        postgres_connect_args,
    )

    assert max(deadline.REQUEST_SECONDS, POSTGRES_CONNECT_SECONDS, SQLITE_BUSY_SECONDS) <= STALL_BOUND_S
    assert POSTGRES_LOCK_MS <= POSTGRES_STATEMENT_MS < deadline.REQUEST_SECONDS * 1000
    args = postgres_connect_args()
    assert args["connect_timeout"] == POSTGRES_CONNECT_SECONDS
    assert f"statement_timeout={POSTGRES_STATEMENT_MS}" in args["options"]


def test_a_frozen_postgresql_is_a_503_within_a_bound_while_predict_still_answers(fake_model, postgres, png):
    # The repro: the server SIGSTOPped under a pooled connection; the pool's pre-ping waited forever.
    margin = STALL_MARGIN_S
    body = {"image": data_url(png), "label": 7}
    with postgres.database() as url:
        app = make_app(fake_model, url, CORRECTIONS_TOKEN="s3cret-token", **BREAKER_OFF)
        client = app.test_client()
        assert client.post("/corrections", json=body).status_code == 201  # the pool now holds a connection
        with postgres.frozen(thaw_after=15):
            response, seconds = timed(lambda: client.post("/corrections", json=body))  # its ping is cut
            assert "database" in assert_error(response, 503)
            assert seconds < STALL_BOUND_S + margin, seconds
            response, seconds = timed(lambda: client.post("/corrections", json=body))  # a new connection
            assert_error(response, 503)
            assert seconds < STALL_BOUND_S + margin, seconds
            response, seconds = timed(
                lambda: client.get("/corrections/export", headers={"Authorization": "Bearer s3cret-token"})
            )
            assert_error(response, 503)
            assert seconds < STALL_BOUND_S + margin, seconds
            response, seconds = timed(lambda: client.post("/predict", data=png, content_type="image/png"))
            assert response.status_code == 200 and seconds < margin
        assert client.post("/corrections", json=json_body(1)).status_code == 201  # resumed, and served again
        assert len(rows(app)) == 2


def test_postgresql_frozen_in_the_middle_of_an_insert_is_a_503_that_stores_nothing(fake_model, postgres, png):
    # Frozen after the advisory lock is taken, as the INSERT is sent: the statement is cut at the deadline.
    from contextlib import ExitStack

    from corrections import deadline

    body = json_body(1)
    with postgres.database() as url:
        app = make_app(fake_model, url, **BREAKER_OFF)
        client = app.test_client()
        assert client.post("/corrections", json=json_body(0)).status_code == 201
        with app.app_context():
            engine = db.engine
        stack, froze = ExitStack(), []

        def freeze_at_insert(_connection, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("INSERT") and not froze:
                froze.append(stack.enter_context(postgres.frozen(thaw_after=15)))

        event.listen(engine, "before_cursor_execute", freeze_at_insert)
        try:
            with stack:
                response, seconds = timed(lambda: client.post("/corrections", json=body))
        finally:
            event.remove(engine, "before_cursor_execute", freeze_at_insert)
        assert froze
        assert "database" in assert_error(response, 503)
        assert deadline.REQUEST_SECONDS <= seconds < STALL_BOUND_S + STALL_MARGIN_S, seconds
        assert client.post("/corrections", json=json_body(2)).status_code == 201  # the lock went with the session
        assert len(rows(app)) == 2


class Clock:
    """A clock for the breaker that moves only when told (seconds)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def test_the_breaker_opens_on_a_database_failure_and_lets_one_trial_through_after_its_cool_down():
    clock = Clock()
    breaker = Breaker(10, clock)
    with breaker.call():
        pass
    with pytest.raises(ClientError), breaker.call():  # the database answered: a full store is no failure
        raise ClientError(503, "The corrections store is full.")
    assert breaker.state == "closed"
    with pytest.raises(OperationalError), breaker.call():
        raise locked()
    assert breaker.state == "open"
    clock.now = 2.5
    with pytest.raises(Open) as refused:
        breaker.check()
    assert refused.value.retry_after == 8 and breaker.retry_after() == 8
    ran = []
    with pytest.raises(Open), breaker.call():
        ran.append("the database")
    assert ran == []  # refused without running the call
    clock.now = 10
    assert breaker.state == "half-open" and breaker.retry_after() is None
    with breaker.call():  # the one trial: another call meanwhile is refused
        with pytest.raises(Open) as refused, breaker.call():
            pass
        assert refused.value.retry_after == 1
    assert breaker.state == "closed"
    with pytest.raises(OperationalError), breaker.call():
        raise locked()
    clock.now = 20
    with pytest.raises(OperationalError), breaker.call():  # a failed trial opens it for another cool-down
        raise locked()
    clock.now = 25
    assert breaker.state == "open" and breaker.retry_after() == 5


def test_a_call_begun_before_the_breaker_opened_does_not_close_it_and_0_seconds_turns_it_off():
    clock = Clock()
    breaker = Breaker(10, clock)
    with breaker.call():  # answered after another call failed meanwhile: it says nothing about the database now
        with pytest.raises(OperationalError), breaker.call():
            raise locked()
    assert breaker.state == "open"
    off = Breaker(0, clock)
    with pytest.raises(OperationalError), off.call():
        raise locked()
    assert off.state == "closed" and off.retry_after() is None
    with off.call():
        pass


COOL_DOWN = 1  # seconds: CORRECTIONS_BREAKER_SECONDS in the tests below


class Touches:
    """Count the uses of ``app``'s database: a pooled connection checked out, or a new one tried (even in vain)."""

    EVENTS = ("checkout", "do_connect")

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def touch(self, *_args):
        self.count += 1

    def __enter__(self):
        for name in self.EVENTS:
            event.listen(self.engine, name, self.touch)
        return self

    def __exit__(self, *_exc):
        for name in self.EVENTS:
            event.remove(self.engine, name, self.touch)


def assert_retry_after(response) -> None:
    assert_error(response, 503)
    assert 1 <= int(response.headers["Retry-After"]) <= COOL_DOWN
    assert f"try again in {response.headers['Retry-After']} s" in response.get_json()["error"]


def assert_refused_at_once(app, send) -> None:
    """``send()`` is answered 503 with Retry-After in milliseconds, without touching the database."""
    with Touches(app) as touches:
        response, seconds = timed(send)
    assert_retry_after(response)
    assert touches.count == 0 and seconds < 0.5, (touches.count, seconds)


def test_the_breaker_answers_corrections_at_once_while_sqlite_is_locked_and_stores_them_after(
    fake_model, tmp_path, png
):
    from corrections import SQLITE_BUSY_SECONDS

    path = tmp_path / "c.sqlite3"
    app = make_app(fake_model, f"sqlite:///{path}", CORRECTIONS_BREAKER_SECONDS=COOL_DOWN)
    client = app.test_client()
    first = client.post("/corrections", json=json_body(0))
    assert first.status_code == 201
    holder = sqlite3.connect(path, isolation_level=None)  # another connection's writer, holding the lock
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response, seconds = timed(lambda: client.post("/corrections", json=json_body(1)))
        assert_retry_after(response)  # the busy timeout ran out: the breaker opens
        assert seconds >= SQLITE_BUSY_SECONDS, seconds
        assert_refused_at_once(app, lambda: client.post("/corrections", json=json_body(2)))
        assert_refused_at_once(
            app,
            lambda: client.patch(
                f"/corrections/{first.get_json()['id']}",
                json={"label": 4},
                headers={"Authorization": f"Bearer {first.get_json()['secret']}"},
            ),
        )
        assert client.post("/predict", data=png, content_type="image/png").status_code == 200
        time.sleep(COOL_DOWN)
        with Touches(app) as touches:  # half-open: one trial reaches the database, finds it locked, reopens
            response, seconds = timed(lambda: client.post("/corrections", json=json_body(3)))
        assert_retry_after(response)
        assert touches.count >= 1 and seconds >= SQLITE_BUSY_SECONDS, seconds
        assert_refused_at_once(app, lambda: client.post("/corrections", json=json_body(4)))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    time.sleep(COOL_DOWN)
    assert client.post("/corrections", json=json_body(5)).status_code == 201  # the trial succeeds: closed
    assert client.post("/corrections", json=json_body(6)).status_code == 201
    assert app.extensions["corrections_breaker"].state == "closed"
    assert [r.image for r in rows(app)] == [drawing(i) for i in (0, 5, 6)]


def test_the_breaker_answers_corrections_at_once_while_postgresql_is_frozen_and_stores_them_after(
    fake_model, postgres, png
):
    from corrections import deadline

    margin = STALL_MARGIN_S
    with postgres.database() as url:
        app = make_app(fake_model, url, CORRECTIONS_BREAKER_SECONDS=COOL_DOWN)
        client = app.test_client()
        assert client.post("/corrections", json=json_body(0)).status_code == 201  # the pool holds a connection
        with postgres.frozen(thaw_after=15):
            response, seconds = timed(lambda: client.post("/corrections", json=json_body(1)))
            assert_retry_after(response)  # its ping was cut at the deadline: the breaker opens
            assert deadline.REQUEST_SECONDS <= seconds < STALL_BOUND_S + margin, seconds
            assert_refused_at_once(app, lambda: client.post("/corrections", json=json_body(2)))
            response, seconds = timed(lambda: client.post("/predict", data=png, content_type="image/png"))
            assert response.status_code == 200 and seconds < margin
            time.sleep(COOL_DOWN)
            with Touches(app) as touches:  # the trial, on a new connection: connect_timeout, then open again
                response, seconds = timed(lambda: client.post("/corrections", json=json_body(3)))
            assert_retry_after(response)
            assert touches.count >= 1 and seconds < STALL_BOUND_S + margin, seconds
            assert_refused_at_once(app, lambda: client.post("/corrections", json=json_body(4)))
        time.sleep(COOL_DOWN)
        assert client.post("/corrections", json=json_body(5)).status_code == 201  # thawed: the trial closes it
        assert client.post("/corrections", json=json_body(6)).status_code == 201
        assert [r.image for r in rows(app)] == [drawing(i) for i in (0, 5, 6)]


def tables(url: str) -> set[str]:
    engine = create_engine(database_uri(url, "/unused"))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_go_up_and_down(fake_model, database_url):
    app = create_app(
        {
            "MODEL": fake_model,
            "SQLALCHEMY_DATABASE_URI": database_uri(database_url, "/unused"),
            "CORRECTIONS_AUTO_UPGRADE": False,
        }
    )
    runner = app.test_cli_runner()
    assert "corrections" not in tables(database_url)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert {"corrections", "alembic_version"} <= tables(database_url)
    body = {"image": data_url(encode(stroke_digit(1))), "label": 1}
    assert app.test_client().post("/corrections", json=body).status_code == 201
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert "corrections" not in tables(database_url)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert "corrections" in tables(database_url) and rows(app) == []


def upgraded_past_a_row(fake_model, database_url, revision: str, columns: str = "", values: str = ""):
    """An app whose store was at ``revision`` when one row (label 7, a 4-byte image) was stored in it with that
    revision's columns (``columns``/``values``: the ones past 0001's, SQL), then upgraded to the head."""
    app = create_app(
        {
            "MODEL": fake_model,
            "SQLALCHEMY_DATABASE_URI": database_uri(database_url, "/unused"),
            "CORRECTIONS_AUTO_UPGRADE": False,
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", revision]).exit_code == 0
    engine = create_engine(database_uri(database_url, "/unused"))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO corrections (created_at, label, image, image_type, image_size, inputs,"
                    f" input_count, reading, confidence{columns})"
                    f" VALUES (:t, 7, :image, 'image/png', 4, :inputs, 0, '', 0.5{values})"
                ),
                {"t": datetime.now(UTC), "image": b"\x89PN", "inputs": b""},
            )
    finally:
        engine.dispose()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    return app


def test_the_hash_migration_hashes_the_rows_stored_before_it(fake_model, database_url):
    app = upgraded_past_a_row(fake_model, database_url, "0001")
    [row] = rows(app)
    assert row.image_sha256 == hashlib.sha256(b"\x89PN").hexdigest()


@pytest.mark.slow
def test_the_procfile_release_phase_creates_the_schema_from_a_paas_style_url(postgres):
    release = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("release:"))
    argv = release.removeprefix("release:").split()
    assert argv == ["flask", "--app", "app", "db", "upgrade"]
    with postgres.database() as url:
        paas_url = url.replace("postgresql://", "postgres://")  # what Heroku's add-on sets
        env = {**os.environ, "DATABASE_URL": paas_url}
        result = subprocess.run(
            [str(Path(sys.executable).with_name("flask")), *argv[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "corrections" in tables(url)


def test_the_schema_revision_the_server_checks_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from corrections.schema import MIGRATIONS, SCHEMA_REVISION

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


@pytest.mark.slow
def test_a_server_starting_on_an_up_to_date_database_leaves_alembic_unloaded(tmp_path):
    # Alembic is about 10 MB in each of gunicorn's processes: loaded only to migrate a database that is behind.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'corrections.sqlite3'}"}
    probe = (
        "import sys, app; app.create_app(); "
        "print(sorted({'alembic', 'flask_migrate'} & {m.split('.')[0] for m in sys.modules}))"
    )
    runs = [
        subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    ]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr[-2000:]
    assert runs[0].stdout.split("\n")[-2] == "['alembic', 'flask_migrate']"  # a new database: migrated
    assert "corrections" in tables(env["DATABASE_URL"])
    assert runs[1].stdout.split("\n")[-2] == "[]"  # already at the head: nothing to load


def post_three(client) -> list[bytes]:
    seven, four = encode(stroke_digit(7)), encode(stroke_digit(4))
    scribble = encode(canvas_from_mnist(np.eye(28, dtype=np.uint8) * 255))  # a diagonal line
    for image, label in [(seven, 7), (four, "4"), (scribble, "not_a_digit")]:
        assert client.post("/corrections", json={"image": data_url(image), "label": label}).status_code == 201
    return [seven, four, scribble]


def test_export_round_trip(app, client, tmp_path, fake_model):
    images = post_three(client)
    seen = [b[:, :, :, 0] for b in fake_model.batches]
    path = tmp_path / "corrections.npz"
    result = app.test_cli_runner().invoke(args=["corrections", "export", str(path)])
    assert result.exit_code == 0 and "3 corrections" in result.output
    data = np.load(path)
    assert data["id"].tolist() == [1, 2, 3] and data["label"].tolist() == [7, 4, 10]
    assert data["reading"].tolist() == ["3", "3", "3"]
    for i, image in enumerate(images):
        begin, end = data["original_offsets"][i : i + 2]
        assert data["originals"][begin:end].tobytes() == image
        begin, end = data["input_offsets"][i : i + 2]
        np.testing.assert_allclose(data["inputs"][begin:end] / 255.0, seen[i], atol=1 / 255)
    # What training reads: one 28x28 per single-mark drawing, ink = 255, labels with 10 = not a digit.
    extra_images, extra_labels = load_extra_data(path)
    assert extra_images.shape == (3, 28, 28) and extra_images.dtype == np.uint8
    assert extra_labels.tolist() == [7, 4, 10]
    np.testing.assert_array_equal(extra_images, data["inputs"])


def number_drawing(digits: str = "1474") -> bytes:
    """A number drawn on a wide canvas, one digit's strokes beside the next (digits of stroke_digit's)."""
    canvas = Image.new("RGBA", (280 * len(digits), 280), (0, 0, 0, 0))
    for i, digit in enumerate(digits):
        canvas.alpha_composite(stroke_digit(int(digit)), (280 * i, 0))
    return encode(canvas)


def test_a_number_is_stored_as_given_with_the_servers_reading_in_the_mode_sent(app, client, fake_model):
    """Issue 23, finding 4: a misread number could be corrected only by one digit 0-9 (the export then could
    not pair it); now the whole number is stored, digits and text, beside the server's own reading."""
    image = number_drawing()
    response = client.post("/corrections", json={"image": data_url(image), "number": "37.50", "mode": "digit"})
    assert response.status_code == 201 and response.get_json() == {"id": 1, "secret": ANY_SECRET}
    [row] = rows(app)
    assert (row.label, row.number, row.number_text) == (None, "3750", "37.50")
    assert row.reading == "3333" and row.input_count == 4  # read by segments: the fake model says 3 for each
    form = client.post(
        "/corrections",
        data={"image": (io.BytesIO(image), "n.png"), "number": "3850", "mode": "digit"},
        content_type="multipart/form-data",
    )
    assert form.status_code == 201
    assert [(r.label, r.number, r.number_text) for r in rows(app)] == [(None, "3750", "37.50"), (None, "3850", "3850")]
    # The same drawing with the same number is stored once; another number is another correction.
    again = client.post("/corrections", json={"image": data_url(image), "number": "37.50", "mode": "digit"})
    assert again.status_code == 200 and again.get_json() == {"id": 1, "duplicate": True}


@pytest.mark.parametrize(
    "body",
    [
        {"number": ""},
        {"number": "37..50"},
        {"number": ".5"},
        {"number": "5-"},
        {"number": "3 850"},
        {"number": "x"},
        {"number": "1" * 33},
        {"number": True},
        {"number": [3850]},
        {"label": 7, "number": "7"},
        {"number": "3850", "mode": "strings"},
    ],
    ids=[
        "empty",
        "two-points",
        "leading-point",
        "trailing-dash",
        "space",
        "letter",
        "too-long",
        "bool",
        "list",
        "both",
        "bad-mode",
    ],
)
def test_a_bad_number_or_mode_is_a_400_and_stores_nothing(app, client, png, body):
    assert_error(client.post("/corrections", json={"image": data_url(png), **body}), 400)
    assert rows(app) == []


def test_an_id_over_sql_bigint_is_no_such_row_not_a_database_error(app, client, png):
    mine = {
        "Authorization": "Bearer "
        + client.post("/corrections", json={"image": data_url(png), "label": 7}).json["secret"]
    }
    for huge in (2**63, 10**30):  # SQLite raised OverflowError on them: a 500
        assert_error(client.patch(f"/corrections/{huge}", json={"label": 4}, headers=mine), 404)
        assert_error(client.delete(f"/corrections/{huge}", headers=mine), 404)
    for other in ("\u0661", "\uff11"):  # an Arabic-Indic and a full-width 1: not the id 1, no such route
        assert_error(client.patch(f"/corrections/{other}", json={"label": 4}, headers=mine), 404)
        assert_error(client.delete(f"/corrections/{other}", headers=mine), 404)
    assert [r.label for r in rows(app)] == [7]


def test_the_mode_of_a_correction_may_be_sent_in_the_query_as_for_predict(app, client, fake_model):
    image = number_drawing()
    response = client.post("/corrections?mode=digit", json={"image": data_url(image), "number": "37.50"})
    assert response.status_code == 201
    assert rows(app)[0].reading == "3333"  # read by segments, as in mode digit: the fake model says 3 for each
    assert_error(client.post("/corrections?mode=bogus", json={"image": data_url(image), "number": "3850"}), 400)
    form = {"image": (io.BytesIO(image), "n.png"), "number": "3850"}
    assert_error(client.post("/corrections?mode=bogus", data=form, content_type="multipart/form-data"), 400)
    assert len(rows(app)) == 1


@pytest.mark.parametrize("sent_in", ["query", "json", "form"])
def test_predict_and_corrections_refuse_a_bad_mode_and_a_missing_file_alike(app, client, png, sent_in):
    """One reading of a request's mode and image (``client_input``) for both routes: the same 400, in the same
    words, wherever the mode was sent; and nothing stored."""

    def post(path: str, mode=True):
        fields = {"label": "7", **({"mode": "Digit"} if mode and sent_in != "query" else {})}
        query = "?mode=numbers" if mode and sent_in == "query" else ""
        if sent_in == "form":
            form = {"image": (io.BytesIO(png), "d.png"), **fields}
            return client.post(path + query, data=form, content_type="multipart/form-data")
        return client.post(path + query, json={"image": data_url(png), **fields})

    said = [assert_error(post(path), 400) for path in ("/predict", "/corrections")]
    assert said[0] == said[1] and "auto, digit, number" in said[0]
    no_file = [
        assert_error(client.post(path, data={"label": "7"}, content_type="multipart/form-data"), 400)
        for path in ("/predict", "/corrections")
    ]
    assert no_file[0] == no_file[1] and "'image'" in no_file[0]
    assert rows(app) == []
    assert post("/corrections", mode=False).status_code == 201  # the same request with no mode is stored


def test_a_correction_is_changed_or_withdrawn_only_with_its_secret(app, client, png):
    """Issue 23, finding 4: a mis-tapped label could not be changed. PATCH and DELETE take the secret answered
    at creation (never a cookie); another row's secret, none, or a wrong one changes nothing."""
    first = client.post("/corrections", json={"image": data_url(png), "label": 7}).get_json()
    other = client.post("/corrections", json={"image": data_url(drawing(1)), "label": 1}).get_json()
    mine = {"Authorization": f"Bearer {first['secret']}"}
    assert first["secret"] != other["secret"]
    for headers in [
        {},
        {"Authorization": f"Bearer {other['secret']}"},
        {"Authorization": "Bearer nope"},
        {"Authorization": first["secret"]},
    ]:
        assert_error(client.patch(f"/corrections/{first['id']}", json={"label": 4}, headers=headers), 403)
        assert_error(client.delete(f"/corrections/{first['id']}", headers=headers), 403)
    assert_error(client.patch("/corrections/99", json={"label": 4}, headers=mine), 404)
    assert_error(client.patch(f"/corrections/{first['id']}", json={"label": 11}, headers=mine), 400)
    assert [(r.id, r.label) for r in rows(app)] == [(1, 7), (2, 1)]

    changed = client.patch(f"/corrections/{first['id']}", json={"label": "not_a_digit"}, headers=mine)
    assert changed.status_code == 200 and changed.get_json() == {"id": 1}
    assert [(r.label, r.number) for r in rows(app)] == [(10, None), (1, None)]
    assert client.patch("/corrections/1", json={"number": "3,850"}, headers=mine).status_code == 200
    assert [(r.label, r.number, r.number_text) for r in rows(app)][0] == (None, "3850", "3,850")
    assert client.patch("/corrections/1", json={"label": 4}, headers=mine).status_code == 200
    assert [(r.label, r.number, r.number_text) for r in rows(app)][0] == (4, None, None)

    withdrawn = client.delete("/corrections/1", headers=mine)
    assert withdrawn.status_code == 204 and withdrawn.get_data() == b""
    assert "Content-Type" not in withdrawn.headers  # no body, no type
    assert_error(client.delete("/corrections/1", headers=mine), 404)
    assert [r.id for r in rows(app)] == [2]


def test_the_export_pairs_each_digit_of_a_number_with_its_input(app, client, tmp_path, fake_model):
    """A number correction whose digits are as many as the marks read trains on each of them, in order; one whose
    count differs is kept, with its reading, but trains on nothing."""
    image = number_drawing()
    client.post("/corrections", json={"image": data_url(image), "number": "37.50", "mode": "digit"})
    client.post("/corrections", json={"image": data_url(image), "number": "38", "mode": "digit"})
    client.post("/corrections", json={"image": data_url(encode(stroke_digit(7))), "label": 7})
    path = tmp_path / "corrections.npz"
    assert app.test_cli_runner().invoke(args=["corrections", "export", str(path)]).exit_code == 0
    data = np.load(path)
    assert data["label"].tolist() == [255, 255, 7]
    assert data["number"].tolist() == ["3750", "38", ""] and data["number_text"].tolist() == ["37.50", "38", ""]
    assert data["reading"].tolist() == ["3333", "3333", "3"]
    assert data["labels"].tolist() == [3, 7, 5, 0, 7] and data["image_row"].tolist() == [1, 1, 1, 1, 3]
    np.testing.assert_array_equal(data["images"][:4], data["inputs"][:4])  # the number's inputs, left to right
    extra_images, extra_labels = load_extra_data(path)
    assert extra_images.shape == (5, 28, 28) and extra_labels.tolist() == [3, 7, 5, 0, 7]


def test_the_number_migration_keeps_the_rows_stored_before_it_unchangeable(fake_model, database_url):
    app = upgraded_past_a_row(fake_model, database_url, "0002", ", image_sha256", ", ''")
    runner = app.test_cli_runner()
    [row] = rows(app)
    assert (row.label, row.number, row.secret_sha256) == (7, None, None)
    client = app.test_client()
    assert_error(client.delete("/corrections/1", headers={"Authorization": "Bearer anything"}), 403)
    assert (
        client.post(
            "/corrections", json={"image": data_url(number_drawing()), "number": "1474", "mode": "digit"}
        ).status_code
        == 201
    )
    with app.app_context():  # a row with neither a label nor a number, or both, is refused by the database
        for label, number in [(None, None), (7, "7")]:
            db.session.add(
                Correction(
                    created_at=Correction.now(),
                    label=label,
                    number=number,
                    image=b"x",
                    image_type="image/png",
                    image_size=1,
                    inputs=b"",
                    input_count=0,
                    reading="",
                    confidence=0.0,
                )
            )
            with pytest.raises(Exception, match="(?i)check"):
                db.session.commit()
            db.session.rollback()
    assert runner.invoke(args=["db", "downgrade", "0002"]).exit_code == 0  # number rows have no digit label
    assert [(r.id, r.label) for r in rows_at_0002(database_url)] == [(1, 7)]
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0


def rows_at_0002(url: str) -> list:
    engine = create_engine(database_uri(url, "/unused"))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT id, label FROM corrections ORDER BY id")).all()
    finally:
        engine.dispose()


def test_the_download_needs_the_token_and_exists_only_with_one(fake_model, tmp_path, png):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    assert make_app(fake_model, url).test_client().get("/corrections/export").status_code == 404
    client = make_app(fake_model, url, CORRECTIONS_TOKEN="s3cret-token").test_client()
    assert client.post("/corrections", json={"image": data_url(png), "label": 7}).status_code == 201
    assert_error(client.get("/corrections/export"), 401)
    assert_error(client.get("/corrections/export", headers={"Authorization": "Bearer wrong"}), 401)
    response = client.get("/corrections/export", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    data = np.load(io.BytesIO(response.data))
    assert data["label"].tolist() == [7] and data["originals"].tobytes() == png
    assert client.post("/corrections/export").status_code == 405  # read-only


def bars(count: int) -> bytes:
    """A PNG of ``count`` short vertical bars: a few hundred bytes that the fake model reads as ``count`` digits."""
    image = np.full((80, count * 30 + 20), 255, np.uint8)
    for i in range(count):
        image[10:70, 10 + i * 30 : 18 + i * 30] = 0
    return encode(Image.fromarray(image))


def test_the_storage_cap_counts_the_inputs_too(fake_model, database_url):
    # The repro: a few hundred bytes of PNG that is read as 24 marks stores 24 x 784 bytes of inputs.
    image = bars(24)
    body = {"image": data_url(image), "label": "not_a_digit"}
    segments = {"STRING_READER": False}  # read by segments: one input a bar
    app = make_app(fake_model, database_url, CORRECTIONS_MAX_BYTES=len(image) + 24 * 784 - 1, **segments)
    assert "full" in assert_error(app.test_client().post("/corrections", json=body), 503)
    assert rows(app) == []
    app = make_app(fake_model, database_url, CORRECTIONS_MAX_BYTES=len(image) + 24 * 784, **segments)
    assert app.test_client().post("/corrections", json=body).status_code == 201
    [row] = rows(app)
    assert row.input_count == 24 and len(row.inputs) == 24 * 784 and row.image_size == len(image) < 1000


def fill(app, count: int, image_bytes: int, inputs: int, seed: int = 0) -> list[bytes]:
    """Store ``count`` rows directly, each a random ``image_bytes`` image (incompressible) with ``inputs`` inputs."""
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, image_bytes, np.uint8).tobytes() for _ in range(count)]
    with app.app_context():
        for i, image in enumerate(images):
            marks = rng.integers(0, 256, (inputs, 28, 28), np.uint8)
            db.session.add(
                Correction(
                    created_at=Correction.now(),
                    label=10 if i % 2 else 7,
                    image=image,
                    image_type="image/png",
                    image_size=len(image),
                    inputs=marks.tobytes(),
                    input_count=inputs,
                    reading="",
                    confidence=0.5,
                    model_sha256=None,
                )
            )
            db.session.commit()
    return images


def test_the_export_is_written_a_page_at_a_time_never_whole_in_memory(fake_model, database_url, tmp_path):
    import tracemalloc

    from corrections.export import snapshot, write_export

    app = make_app(fake_model, database_url)
    images = fill(app, count=24, image_bytes=1_000_000, inputs=20)  # 24 MB of originals, 7.5 MB of inputs
    path = tmp_path / "big.npz"
    with app.app_context(), path.open("wb") as target:
        tracemalloc.start()
        try:
            with snapshot(db.engine) as connection:
                size = write_export(connection, target)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert size.rows == 24 and size.stored_bytes == 24 * (1_000_000 + 20 * 784)
    assert path.stat().st_size > 24_000_000
    assert peak < 12_000_000, f"{peak / 1e6:.1f} MB"  # a page of 4 originals and some change, not 31 MB
    data = np.load(path)
    assert data["originals"][data["original_offsets"][5] : data["original_offsets"][6]].tobytes() == images[5]
    assert data["inputs"].shape == (480, 28, 28) and data["images"].shape == (240, 28, 28)  # the 12 "not a digit"
    assert data["labels"].tolist() == [10] * 240 and data["image_row"][:20].tolist() == [2] * 20
    np.testing.assert_array_equal(data["images"][:20], data["inputs"][20:40])


def test_the_export_is_one_snapshot_while_rows_are_added(fake_model, database_url, tmp_path):
    from corrections.export import snapshot, write_export

    app = make_app(fake_model, database_url)
    fill(app, count=3, image_bytes=500, inputs=1)
    added = []

    def add_one_row(_connection, _cursor, statement, *_args):  # a writer commits between the export's queries
        if "corrections.image " in statement.replace("\n", " ") + " " and not added:
            added.append(fill(app, count=1, image_bytes=700, inputs=2, seed=1))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", add_one_row)
        try:
            with snapshot(db.engine) as connection, (tmp_path / "c.npz").open("wb") as target:
                size = write_export(connection, target)
        finally:
            event.remove(db.engine, "before_cursor_execute", add_one_row)
    assert added and size.rows == 3 and len(rows(app)) == 4
    data = np.load(tmp_path / "c.npz")
    assert data["id"].tolist() == [1, 2, 3] and data["originals"].shape == (1500,) and data["inputs"].shape[0] == 3


def test_a_download_over_the_caps_is_refused_before_a_row_is_read(fake_model, database_url):
    app = make_app(fake_model, database_url, CORRECTIONS_TOKEN="s3cret-token")
    fill(app, count=3, image_bytes=10_000, inputs=1)
    small = make_app(fake_model, database_url, CORRECTIONS_TOKEN="s3cret-token", CORRECTIONS_MAX_BYTES=20_000)
    statements = []
    with small.app_context():
        engine = db.engine
    record = lambda _c, _cur, statement, *_a: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = small.test_client().get("/corrections/export", headers={"Authorization": "Bearer s3cret-token"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "corrections export" in assert_error(response, 503)
    assert statements and not any("ORDER BY" in s for s in statements), statements  # the sizes' one query
    response = app.test_client().get("/corrections/export", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200 and response.content_length == len(response.data)
    assert np.load(io.BytesIO(response.data))["original_offsets"].tolist() == [0, 10_000, 20_000, 30_000]


@pytest.mark.slow
def test_two_gunicorn_workers_writing_at_once_lose_nothing(tmp_path, png):
    from bench import gunicorn_process

    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    env = {"DATABASE_URL": url, "CORRECTIONS_RATE_LIMIT": "1000 per minute", "MODEL_BACKEND": "litert"}
    bodies = [json.dumps(json_body(i)).encode() for i in range(60)] * 2  # each correction sent twice at once
    with gunicorn_process.start(png, env=env, workers=2) as server:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda body: gunicorn_process.post(server.url + "/corrections", body, "application/json"), bodies
                )
            )
        assert server.memory_mb()["processes"] == 3
    for first, second in zip(answers[:60], answers[60:]):  # one stored (201), the other its duplicate (200)
        assert sorted([first[0], second[0]]) == [200, 201] and first[1]["id"] == second[1]["id"], (first, second)
    ids = sorted(body["id"] for status, body in answers if status == 201)
    assert ids == list(range(1, 61))
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.exec_driver_sql("SELECT count(*), min(label), max(label) FROM corrections").one()
        assert counts == (60, 7, 7)
    engine.dispose()


@pytest.mark.slow
def test_retraining_with_extra_data_trains_on_them_and_never_scores_them(fake_model, tmp_path, capsys):
    app = make_app(fake_model, f"sqlite:///{tmp_path / 'c.sqlite3'}", CORRECTIONS_RATE_LIMIT="100 per minute")
    client = app.test_client()
    for digit in (0, 1, 4, 7):
        for width in (12, 18, 24):
            image = encode(stroke_digit(digit, width=width))
            assert client.post("/corrections", json={"image": data_url(image), "label": digit}).status_code == 201
    post_three(client)  # two more digits and one "not a digit"
    path = tmp_path / "corrections.npz"
    assert app.test_cli_runner().invoke(args=["corrections", "export", str(path)]).exit_code == 0
    assert (
        model._main(
            [
                "train",
                "--epochs",
                "1",
                "--train-limit",
                "300",
                "--extra-scale",
                "0",
                "--extra-data",
                str(path),
                "--output-dir",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    record = json.loads((tmp_path / "run" / HISTORY_FILENAME).read_text())
    assert record["correction_images"] == 15  # the "not a digit" one trains the 11th class
    assert record["train_images"] == 240 + 15 and record["validation_images"] == 60
    assert record["test_images"] == 10_000  # MNIST's test set, untouched by the corrections
    assert (tmp_path / "run" / "mnist_cnn.tflite").is_file()


@pytest.mark.slow
def test_the_string_reader_trains_on_the_numbers_people_corrected(fake_model, tmp_path):
    """A number corrected on the page trains the string reader as the person wrote it (separators included), from
    the line the server finds in the image as sent; digit labels stay the digit network's."""
    from recognizer.decode import decode_image
    from recognizer.line import find_line
    from training.string_data import correction_lines

    app = make_app(fake_model, f"sqlite:///{tmp_path / 'c.sqlite3'}", CORRECTIONS_RATE_LIMIT="100 per minute")
    client = app.test_client()
    drawings = {"14.70": number_drawing("1470"), "1474": number_drawing("1474")}
    for written, image in drawings.items():
        response = client.post("/corrections", json={"image": data_url(image), "number": written, "mode": "number"})
        assert response.status_code == 201
    assert client.post("/corrections", json={"image": data_url(encode(stroke_digit(7))), "label": 7}).status_code == 201
    path = tmp_path / "corrections.npz"
    assert app.test_cli_runner().invoke(args=["corrections", "export", str(path)]).exit_code == 0

    lines, texts = correction_lines(path, variants=3, seed=5)
    assert texts == ["14.70"] * 3 + ["1474"] * 3  # the 7 is not a number
    served = find_line(decode_image(drawings["14.70"])).image  # the first of each is the line as served
    np.testing.assert_array_equal(lines[0], np.round(served * 255).astype(np.uint8))
    assert not np.array_equal(lines[1], lines[0])  # then scanned again, a little differently
    assert all(line.shape[0] == 32 and line.shape[1] >= 4 * 8 for line in lines)

    output = tmp_path / "run" / "digit_strings.keras"
    command = ["train-strings", "--steps", "2", "--synthetic", "16", "--real-variants", "2", "--members", "1"]
    assert model._main([*command, "--corrections", str(path), "--output", str(output)]) == 0
    record = json.loads(output.with_suffix(".json").read_text())
    assert record["correction_lines"] == 4 and record["config"]["corrections"] == str(path)
    assert record["corrections_sha256"] == {"corrections.npz": hashlib.sha256(path.read_bytes()).hexdigest()}

"""POST /corrections, and GET /corrections/export behind a bearer token when CORRECTIONS_TOKEN is set."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from flask_limiter import Limiter
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter

from client_input import ClientError, json_body
from corrections.breaker import TRIPS, Breaker, Open
from corrections.clients import Budget, client_key
from corrections.deadline import EXPORT_SECONDS, REQUEST_SECONDS, within
from corrections.export import ExportTooLarge, snapshot, write_export
from corrections.fields import LABEL_HELP, label_fields, media_type, parse_request
from corrections.models import Correction, db, stored_bytes

log = logging.getLogger(__name__)

UNAVAILABLE = "Corrections cannot be saved right now (the database is unavailable); please try again later."
RETRY = "Corrections cannot be saved right now (the database is unavailable); please try again in {} s."
SECRET_HELP = "Send the secret answered when the correction was saved as 'Authorization: Bearer <secret>'."
# Row ids are SQL BIGINTs: a larger id in a URL is no row (404) before the database sees it (SQLite raised
# OverflowError on it, a 500).
ROW_ID_MAX = 2**63 - 1
LOCK_KEY = 11_2026  # PostgreSQL advisory lock taken while checking the caps and inserting


class RowIdConverter(IntegerConverter):
    """A row's id in a URL: ASCII digits only. Werkzeug's ``int`` matches ``\\d``, any Unicode digit, so
    ``/corrections/٣`` (an Arabic-Indic 3) reached row 3 (a helper attacking the server, 2026-12-06)."""

    regex = r"[0-9]+"


def create_blueprint(limiter: Limiter, token: str | None, breaker: Breaker) -> Blueprint:
    """Return the corrections blueprint, rate-limited by ``limiter`` (one per app).

    POST, PATCH and DELETE reach the database through ``breaker`` (CORRECTIONS_BREAKER_SECONDS): after one
    fails by a timeout, a lock or a lost connection, they are answered 503 with Retry-After at once, without
    touching it, until its cool-down is over. The download GET /corrections/export, an operator's read under
    its own deadline, is not behind it; it exists only when ``token`` (CORRECTIONS_TOKEN) is set.
    """
    bp = Blueprint("corrections", __name__)
    bp.record_once(lambda state: state.app.url_map.converters.setdefault("row_id", RowIdConverter))
    budget = Budget(limiter)
    guarded = {f"{bp.name}.{name}" for name in ("create", "change", "withdraw")}

    @contextmanager
    def database_call() -> Iterator[None]:
        """One correction's use of the database: through the breaker, cut off at the deadline (PostgreSQL)."""
        with breaker.call(), within(REQUEST_SECONDS):
            yield

    @bp.post("/corrections")
    @limiter.limit(
        lambda: current_app.config["CORRECTIONS_RATE_LIMIT"],
        key_func=client_key,
        error_message="Too many corrections from this address; please wait a minute and try again.",
    )
    def create():
        """Store a correction: the image, the label a person chose and the server's own reading.

        Accepts JSON ``{"image": "<data URL or bare base64>", "label": 0..9 | "not_a_digit"}``, or with
        ``"number": "37.50"`` (a whole number, as written) in place of ``label``, or multipart/form-data with a
        file field ``image`` and a field ``label`` or ``number``; the image in any format /predict takes,
        within the same size limit. ``mode`` (as for /predict, default "auto") is how the server reads the
        image again, so that its stored reading is the one the person saw. Answers 201 ``{"id": int,
        "secret": str}`` when the row is stored (the secret changes or withdraws it: PATCH and DELETE), 200
        ``{"id": int, "duplicate": true}`` when the same image bytes with the same label are stored already
        (as row ``id``: a retry stores nothing twice); 400 for a bad label or image, 413 oversized, 415
        another body, 422 blank, 429 over the rate limit or the client's daily budget of bytes, 503 when the
        store is full or the database is down, locked or stalled (PostgreSQL is cut off after
        ``corrections.deadline.REQUEST_SECONDS``), and at once, with Retry-After, for the breaker's cool-down
        after such a failure. Nothing is stored unless the answer is 201.
        """
        breaker.check()  # an open breaker answers before the image is read
        data, label, mode = parse_request()
        reading = current_app.extensions["reader"].read(data, mode)
        secret = secrets.token_urlsafe(18)
        row = Correction(
            created_at=Correction.now(),
            **label,
            image=data,
            image_type=media_type(data),
            image_size=len(data),
            image_sha256=hashlib.sha256(data).hexdigest(),
            secret_sha256=_sha256(secret),
            model_sha256=current_app.extensions["corrections_model_sha256"],
            **_reading_fields(reading),
        )
        cost = budget.cost(row)
        with database_call():  # a stalled PostgreSQL is cut off: a 503
            row_id, stored = _insert(row, admit=lambda: budget.check(cost))
        if not stored:
            return jsonify(id=row_id, duplicate=True), 200
        budget.charge(cost)
        return jsonify(id=row_id, secret=secret), 201

    @bp.patch("/corrections/<row_id:row_id>")
    @limiter.limit(
        lambda: current_app.config["CORRECTIONS_RATE_LIMIT"],
        key_func=client_key,
        error_message="Too many changes from this address; please wait a minute and try again.",
    )
    def change(row_id: int):
        """Change a stored correction's label: JSON ``{"label": ...}`` or ``{"number": ...}`` as for POST, with
        ``Authorization: Bearer <secret>`` (the secret answered when it was stored). Answers 200 ``{"id": int}``;
        400 a bad label, 403 a wrong or missing secret (or a row stored without one), 404 no such row; 503 as for
        POST.
        """
        breaker.check()
        body = json_body(LABEL_HELP)
        label = label_fields(body)
        with database_call():
            row = _own_row(row_id)
            row.label, row.number, row.number_text = label["label"], label["number"], label["number_text"]
            db.session.commit()
        return jsonify(id=row_id), 200

    @bp.delete("/corrections/<row_id:row_id>")
    @limiter.limit(
        lambda: current_app.config["CORRECTIONS_RATE_LIMIT"],
        key_func=client_key,
        error_message="Too many changes from this address; please wait a minute and try again.",
    )
    def withdraw(row_id: int):
        """Withdraw (delete) a stored correction, with ``Authorization: Bearer <secret>``. Answers 204; 403 a wrong
        or missing secret, 404 no such row (withdrawn already); 503 as for POST.
        """
        breaker.check()
        with database_call():
            db.session.delete(_own_row(row_id))
            db.session.commit()
        withdrawn = Response(status=204)
        del withdrawn.headers["Content-Type"]  # no body, so no type (Werkzeug gives every response text/html)
        return withdrawn

    if token:

        @bp.get("/corrections/export")
        @limiter.limit(
            lambda: current_app.config["CORRECTIONS_TOKEN_RATE_LIMIT"],
            key_func=client_key,
            deduct_when=lambda response: response.status_code == 401,
            error_message="Too many wrong download tokens from this address; try again in an hour.",
        )
        def download():
            """Send every correction as an .npz (see corrections.export) to ``Authorization: Bearer <token>``.

            Answers 401 without the right token, and 429 to a client that sent a wrong one more often than
            CORRECTIONS_TOKEN_RATE_LIMIT (default 10 per hour; only the 401s count). Read-only. The .npz is
            written a page of rows at a time to a temporary file, then sent from it in blocks, so memory holds
            a page, never the export; its size is checked first, from one query: a store over the caps
            (CORRECTIONS_MAX_ROWS, CORRECTIONS_MAX_BYTES, which count the inputs too) is a 503 naming the CLI,
            which has no bound.
            """
            sent = request.headers.get("Authorization", "")
            if not (sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode())):
                response = jsonify(error="Send the download token as 'Authorization: Bearer <CORRECTIONS_TOKEN>'.")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response, 401
            config = current_app.config
            spool = tempfile.TemporaryFile()  # already unlinked: its disk space goes when the answer is sent
            try:
                with within(EXPORT_SECONDS), snapshot(db.engine) as connection:
                    write_export(
                        connection,
                        spool,
                        max_rows=config["CORRECTIONS_MAX_ROWS"],
                        max_bytes=config["CORRECTIONS_MAX_BYTES"],
                    )
            except BaseException:
                spool.close()
                raise
            length = spool.tell()
            spool.seek(0)
            response = send_file(
                spool, mimetype="application/octet-stream", as_attachment=True, download_name="corrections.npz"
            )  # sent in blocks, closed at the end
            response.content_length = length
            response.headers["Cache-Control"] = "no-store"
            return response

    @bp.errorhandler(ExportTooLarge)
    def export_too_large(error: ExportTooLarge):
        return jsonify(error=f"{error} Export it with 'flask --app app corrections export PATH.npz'."), 503

    @bp.errorhandler(Open)
    def breaker_open(error: Open):
        """Answer 503 with Retry-After: the database failed within the breaker's cool-down, and is not tried."""
        g.corrections_retry_after = error.retry_after  # keep_retry_after writes it over Flask-Limiter's
        return jsonify(error=RETRY.format(error.retry_after)), 503

    @bp.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError):
        """Answer 503 when the database is down, unreachable or has no schema; log the cause.

        A correction whose failure opened the breaker is told, with Retry-After, when to try again.
        """
        db.session.rollback()
        log.warning("corrections database error: %s", str(error).splitlines()[0])
        retry = breaker.retry_after() if request.endpoint in guarded and isinstance(error, TRIPS) else None
        return breaker_open(Open(retry)) if retry is not None else (jsonify(error=UNAVAILABLE), 503)

    return bp


def keep_retry_after(response: Response) -> Response:
    """Give a correction refused by the breaker its Retry-After: the seconds left of the cool-down.

    Register it on the app, not on the corrections blueprint: Flask runs the app's after_request hooks after the
    blueprint's, among them Flask-Limiter's (``corrections.hooks_for_blueprint_only``), which sets Retry-After on
    every answer of a rate-limited route, to the rate limit window's reset (up to a minute with "10 per minute"),
    or to the later of that and one already set.
    """
    seconds = g.pop("corrections_retry_after", None)
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _own_row(row_id: int) -> Correction:
    """Return row ``row_id`` if the request's bearer secret is its own.

    Raises ClientError: 404 for no such row, 403 for another secret, none, or a row stored without one.
    """
    row = db.session.get(Correction, row_id) if row_id <= ROW_ID_MAX else None
    if row is None:
        raise ClientError(404, f"There is no correction {row_id} (withdrawn already, or never stored).")
    sent = request.headers.get("Authorization", "")
    if not (
        sent.startswith("Bearer ") and row.secret_sha256 and hmac.compare_digest(_sha256(sent[7:]), row.secret_sha256)
    ):
        db.session.rollback()
        raise ClientError(403, f"That is not correction {row_id}'s secret. " + SECRET_HELP)
    return row


def _reading_fields(reading) -> dict:
    """Return the row's reading, confidence and 28x28 inputs (uint8, ink = 255) from a recognizer.read.Reading.

    Every mark the network read is kept: the digits, or (nothing read as a digit) the marks skipped as not
    digits, so a "not a digit" correction keeps what the network saw.
    """
    marks = reading.digits or reading.skipped
    inputs = np.stack([d.preprocessed for d in marks]) if marks else np.zeros((0, 28, 28), np.float32)
    return {
        "reading": reading.number,
        "confidence": reading.strongest.confidence if marks else 0.0,
        "inputs": np.round(np.clip(inputs, 0, 1) * 255).astype(np.uint8).tobytes(),
        "input_count": len(inputs),
    }


def _insert(row: Correction, admit: Callable[[], None] = lambda: None) -> tuple[int, bool]:
    """Insert ``row`` unless it is stored already or a cap is reached (ClientError 503); return (id, stored).

    A row with the same image bytes (``image_sha256``) and label is stored already: (its id, False), and
    nothing is written, even in a full store or past the client's budget (so a retry is answered as the
    first try was). Otherwise ``admit()`` is called, which may raise ClientError (the client's budget: 429).

    The caps: CORRECTIONS_MAX_ROWS rows, and CORRECTIONS_MAX_BYTES bytes of images and 28x28 inputs together
    (a 553-byte PNG of 24 marks stores 18.8 KB of inputs).

    The count and the insert are one transaction that writers take in turn (SQLite: BEGIN IMMEDIATE;
    PostgreSQL: an advisory lock), so concurrent workers cannot overshoot the caps. The id is read at the
    flush, before the commit, and nothing is read after it: the commit is the last statement, so the
    row is stored exactly when this returns, and an SQLAlchemyError raised here means nothing was stored
    (short of a connection lost during the COMMIT itself, whose outcome no client can know).
    """
    config = current_app.config
    session = db.session
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":  # the write lock from the start (see corrections._sqlite_begin)
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    elif dialect == "postgresql":  # waits at most the connection's lock_timeout
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    duplicate = session.scalar(
        select(Correction.id)
        .where(
            Correction.image_sha256 == row.image_sha256,
            Correction.label.is_not_distinct_from(row.label),
            Correction.number_text.is_not_distinct_from(row.number_text),
        )
        .order_by(Correction.id)
        .limit(1)
    )
    if duplicate is not None:
        session.rollback()
        return duplicate, False
    try:
        admit()
    except ClientError:
        session.rollback()
        raise
    count, stored = session.execute(select(func.count(Correction.id), func.coalesce(func.sum(stored_bytes()), 0))).one()
    adding = row.image_size + len(row.inputs)  # the image and its inputs, as stored_bytes counts them
    if count >= config["CORRECTIONS_MAX_ROWS"] or stored + adding > config["CORRECTIONS_MAX_BYTES"]:
        session.rollback()
        raise ClientError(
            503, "The corrections store is full, so no more can be saved for now; thank you all the same."
        )
    session.add(row)
    session.flush()  # INSERT: SQLite's lastrowid or PostgreSQL's RETURNING gives the id
    row_id = row.id
    session.commit()  # expires row; reading row.id after this would reload it in a new transaction
    return row_id, True

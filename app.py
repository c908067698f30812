"""The Flask application: the drawing page, the /predict API and /healthz.

Start it with gunicorn as the Procfile does (``gunicorn -c gunicorn.conf.py "app:create_app()"``)
or for development with ``flask --app app run``. The model is loaded once, in ``create_app``;
requests share it, and a worker keeps no other state but the corrections' rate limit and circuit breaker
(docs/deploy.md), so it scales to many workers and dynos.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

import corrections
from client_input import ClientError, form_image, json_body, json_image, request_mode
from recognizer import backends, decode, read, strings
from recognizer.reader import Reader

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a canvas PNG is a few KB; a phone photo fits easily

ERROR_MESSAGES = {
    400: 'The request could not be read; send JSON {"image": "data:image/png;base64,..."}.',
    404: "There is nothing here; the API is POST /predict and GET /healthz, the page is at /.",
    405: "This method is not allowed here; send the image with POST to /predict.",
    413: f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; send a smaller image.",
    415: "Send the image as JSON {\"image\": data URL}, as a multipart file field 'image', "
    "or as a raw body with an image/* Content-Type.",
}
SEND_JSON = 'send {"image": "data:image/png;base64,..."}.'  # the end of /predict's messages on a JSON body
# Werkzeug answers 413 for a form of too many parts or a text field too large, whatever the body's size.
FORM_TOO_COMPLEX = (
    "The form has too many fields or a field too large to read; send the image as the file field 'image', "
    "with 'mode' (and for /corrections 'label' or 'number') as short text fields."
)
CORRECTIONS_METHODS = (
    "This method is not allowed here: POST /corrections stores a correction, PATCH or DELETE "
    "/corrections/<id> changes or withdraws it (docs/corrections.md)."
)

# On every response. The page's scripts and styles are files under static/ (no inline code), so
# the policy can forbid inline scripts; data: images are the 28x28 previews from /predict.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    """Create the app and load the model once.

    ``config`` overrides settings; tests pass ``MODEL`` (any ``recognizer.backends.Backend``) to
    skip loading. ``MODEL_BACKEND`` (litert | keras; default ``backends.backend_name()``, which reads
    the environment) and ``MODEL_PATH`` (default $MODEL_PATH, else the committed file).
    ``HEALTH_GOLDEN_DIGITS``: /healthz must read the golden digits shipped with the model (default: when
    the model is loaded here; a fake ``MODEL`` is not held to them unless this is True). Raises
    backends.ModelLoadError, naming the file and the command that rebuilds it, when the model
    cannot be loaded or gives no probabilities: the process stops rather than answering 500s.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        PROVIDE_AUTOMATIC_OPTIONS=False,  # no CORS here: OPTIONS is a JSON 405 like any other method, not an empty page
        MODEL_BACKEND=None,
        MODEL_PATH=os.environ.get("MODEL_PATH"),
        MODEL=None,
        STRING_MODEL_PATH=os.environ.get("STRING_MODEL_PATH") or strings.STRING_MODEL_PATH,
        STRING_READER=None,  # tests may pass a strings.StringReader; False reads numbers by segments only
        # /healthz reads the golden digits; None: for a model loaded here, not a MODEL passed in.
        HEALTH_GOLDEN_DIGITS=None,
    )
    app.config.update(config or {})
    _check_temp_dir()
    golden = app.config["HEALTH_GOLDEN_DIGITS"]
    golden = app.config["MODEL"] is None if golden is None else bool(golden)
    if golden:
        backends.golden_digits()  # a missing file stops the start, not the first health check
    model = app.config["MODEL"] or backends.load_backend(app.config["MODEL_BACKEND"], app.config["MODEL_PATH"])
    app.extensions["digit_model"] = model
    string_reader = app.config["STRING_READER"]
    if string_reader is None:
        string_reader = strings.load_string_reader(app.config["STRING_MODEL_PATH"])
    reader = Reader(model, string_reader or None)
    app.extensions["reader"] = reader  # the corrections blueprint reads the server's own reading
    corrections.init_app(app)  # POST /corrections and its database; /predict never waits on it

    @app.before_request
    def read_streamed_body():
        """Read a body sent without Content-Length (chunked) here, within MAX_CONTENT_LENGTH.

        Werkzeug would stop silently at the limit (a cut image answered 200); gunicorn raises its
        own errors for a malformed chunk. Answers 413 past the limit and 400 for a malformed body;
        otherwise the body is handed on as if it had come with a Content-Length. Only where the
        server ends the stream itself (``wsgi.input_terminated``: gunicorn, Werkzeug for chunked
        bodies), so a read never waits on an open socket.
        """
        if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
            return  # with neither, Werkzeug reads nothing (a server that does not end the stream)
        limit = app.config["MAX_CONTENT_LENGTH"]
        try:
            body = request.environ["wsgi.input"].read(limit + 1)
        except Exception as exc:  # gunicorn: InvalidChunkSize, ChunkMissingTerminator, NoMoreData
            raise ClientError(
                400,
                "The request body could not be read (malformed chunked encoding); "
                "send the image with a Content-Length.",
            ) from exc
        if len(body) > limit:
            raise ClientError(413, ERROR_MESSAGES[413])
        request.environ["wsgi.input"] = io.BytesIO(body)
        request.environ["CONTENT_LENGTH"] = str(len(body))
        for cached in ("content_length", "stream"):  # Werkzeug's cached properties, recomputed from environ
            request.__dict__.pop(cached, None)

    @app.get("/")
    def index():
        """Serve the drawing page."""
        return render_template("index.html")

    @app.post("/predict")
    def predict():
        """Read the digit, or the number, in an image.

        Accepts JSON ``{"image": "<data URL or bare base64>"}``, multipart/form-data with a file
        field ``image``, or a raw body with an ``image/*`` Content-Type; PNG, JPEG, WebP, BMP or
        GIF. ``mode`` (a query parameter ``?mode=``, a JSON field or a form field): ``auto`` (default; an image
        whose line of ink is wide reads as a number), ``digit`` or ``number`` (read whole by the string reader);
        another is a 400. Answers 200 with ``read.Reading.to_json``: ``number`` (the digits left to right, "" for
        none), ``text`` (the number with its separators, "37.50"), ``reader`` ("segments" or "strings"),
        ``digits`` (each with ``digit``, ``confidence``, ``probabilities`` (10 floats, summing to
        1 - ``not_digit_probability``), ``not_digit_probability``, ``box`` [x, y, w, h] in pixels and
        ``low_confidence``), ``skipped`` (marks that are not digits, with boxes), ``not_a_digit``,
        ``low_confidence``, and for the strongest digit (a single drawing's one digit) ``digit`` (0..9,
        or null when nothing is a digit), ``confidence``, ``probabilities``, ``not_digit_probability`` and
        ``preprocessed`` (a PNG data URL of the 28x28 input the network saw). A 4xx ``{"error": "..."}``
        for a missing, unreadable, oversized, blank or too costly image (400, 413, 415, 422); 503 when the
        model's output is not probabilities.
        """
        data, mode = _image_and_mode()
        return jsonify(reader.read(data, mode).to_json())

    @app.get("/healthz")
    def healthz():
        """Run the model on a tiny batch and the golden digits; answer 200 ``{"status": "ok", ...}``.

        The 200 body also holds ``model``, ``backend`` and ``file`` (``read.model_info``).

        Answers 503 ``{"status": "unhealthy", "error": ...}`` when the model fails, its output is not
        probabilities or it misreads a golden digit (``backends.health_problem``), so a platform can take
        the instance out.
        """
        problem = backends.health_problem(model, golden)
        if problem:
            log.error("health check failed: the model %s", problem)
            return jsonify(status="unhealthy", error=f"The model {problem}.", **read.model_info(model)), 503
        return jsonify(status="ok", **read.model_info(model))

    @app.after_request
    def add_security_headers(response):
        """Add the security headers; answers from /predict are never cached (they are per drawing)."""
        response.headers.update(SECURITY_HEADERS)
        if request.path == "/predict":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """Answer every HTTP error (404, 405, 413, ...) as JSON, never as an HTML page."""
        message = getattr(error, "api_message", None) or ERROR_MESSAGES.get(error.code) or error.description
        form = request.mimetype == "multipart/form-data" and (request.content_length or 0) <= MAX_UPLOAD_BYTES
        if error.code == 413 and form and not getattr(error, "api_message", None):  # a form's parts, not its size
            message = FORM_TOO_COMPLEX
        elif error.code == 405 and request.path.startswith("/corrections"):
            message = CORRECTIONS_METHODS
        response = jsonify(error=message)
        if getattr(error, "valid_methods", None):  # a 405 names the methods the path takes (RFC 9110, 15.5.6)
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response, error.code

    @app.errorhandler(decode.PreprocessingError)
    def image_error(error: decode.PreprocessingError):
        """Answer 400 for images that cannot be read, 413 for oversized ones, 422 for blank ones and
        for ones that would cost more work than any drawing (too many scans, marks or runs of ink)."""
        if isinstance(error, decode.ImageTooLargeError):
            status = 413
        elif isinstance(error, (decode.EmptyImageError, decode.TooMuchWorkError)):
            status = 422
        else:
            status = 400
        if isinstance(error, decode.EmptyImageError):  # an answer, not a fault: no digit here (a blank cell)
            return jsonify(error=str(error), finding=error.finding, no_digit=True), status
        return jsonify(error=str(error)), status

    @app.errorhandler(backends.ModelOutputError)
    def model_error(error: backends.ModelOutputError):
        """Answer 503 when the model's output is not probabilities: the server, not the image, is at fault."""
        log.error("model output check failed on %s: %s", request.path, error)
        return jsonify(error="The model is not working; the service is unavailable. Please try again later."), 503

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        """Log an unexpected failure and answer a JSON 500 with no stack trace."""
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="The server failed to answer this request; please try again."), 500

    return app


class StartupError(RuntimeError):
    """The environment cannot serve requests; the message names the cause and the fix."""


def _check_temp_dir() -> None:
    """Fail at start-up, not on the first upload, when no temporary file can be written.

    Werkzeug spools large multipart uploads to temporary files. Raises StartupError.
    """
    try:
        with tempfile.TemporaryFile():
            pass
    except OSError as exc:  # FileNotFoundError when no candidate directory is usable
        raise StartupError(
            f"Cannot write a temporary file ({exc}); set TMPDIR to a writable folder, e.g. TMPDIR=/tmp."
        ) from exc


def _image_and_mode() -> tuple[bytes, str]:
    """Return the uploaded image's bytes and the reading mode, from whichever of the three request forms was used.

    Raises ClientError (400/415) when no image is present or the mode is not one of ``reader.MODES``, and
    ImageDecodeError for bad base64.
    """
    if request.mimetype == "multipart/form-data":
        return form_image(), request_mode()
    if request.mimetype.startswith("image/"):
        return request.get_data(), request_mode()
    if request.is_json:
        body = json_body(SEND_JSON)
        return json_image(body, SEND_JSON), request_mode(body)
    if not request.content_length and not request.mimetype:
        raise ClientError(
            400, "The request has no image; send a PNG of the drawing (see the README for curl examples)."
        )
    raise ClientError(415, ERROR_MESSAGES[415])

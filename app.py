"""The Flask application: the drawing page, the /predict API and /healthz.

Start it with gunicorn as the Procfile does (``gunicorn -c gunicorn.conf.py "app:create_app()"``)
or for development with ``flask --app app run``. The model is loaded once, in ``create_app``;
requests share it and the app keeps no other state, so it scales to many workers and dynos.
"""

from __future__ import annotations

import logging
import os
import tempfile

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

import corrections
import inference
import preprocessing

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a canvas PNG is a few KB; a phone photo fits easily

ERROR_MESSAGES = {
    400: "The request could not be read; send JSON {\"image\": \"data:image/png;base64,...\"}.",
    404: "There is nothing here; the API is POST /predict and GET /healthz, the page is at /.",
    405: "This method is not allowed here; send the image with POST to /predict.",
    413: f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; send a smaller image.",
    415: "Send the image as JSON {\"image\": data URL}, as a multipart file field 'image', "
         "or as a raw body with an image/* Content-Type.",
}

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

    ``config`` overrides settings; tests pass ``MODEL`` (any object with ``predict`` and ``name``)
    to skip loading. Settings from the environment: ``MODEL_BACKEND`` (litert | keras) and
    ``MODEL_PATH``. Raises inference.ModelLoadError, naming the file and the command that rebuilds
    it, when the model cannot be loaded: the process stops rather than answering 500s.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        MODEL_BACKEND=os.environ.get("MODEL_BACKEND", inference.DEFAULT_BACKEND),
        MODEL_PATH=os.environ.get("MODEL_PATH"),
        MODEL=None,
    )
    app.config.update(config or {})
    _check_temp_dir()
    model = app.config["MODEL"] or inference.load_backend(app.config["MODEL_BACKEND"], app.config["MODEL_PATH"])
    app.extensions["digit_model"] = model
    corrections.init_app(app)  # POST /corrections and its database; /predict never waits on it

    @app.get("/")
    def index():
        """Serve the drawing page."""
        return render_template("index.html")

    @app.post("/predict")
    def predict():
        """Read the digit in an image.

        Accepts JSON ``{"image": "<data URL or bare base64>"}``, multipart/form-data with a file
        field ``image``, or a raw body with an ``image/*`` Content-Type; PNG, JPEG, WebP, BMP or
        GIF. Answers 200 ``{"digit": 0..9, "confidence": 0..1, "probabilities": [10 floats summing
        to 1], "preprocessed": "data:image/png;base64,..." (the 28x28 input the network saw)}``,
        or a 4xx ``{"error": "..."}`` for a missing, unreadable, oversized or blank image.
        """
        data = _image_bytes()
        prediction = inference.predict_image(data, model)
        return jsonify(prediction.to_json())

    @app.get("/healthz")
    def healthz():
        """Answer 200 ``{"status": "ok", "model": ..., "backend": ..., "file": ...}``."""
        return jsonify(status="ok", **inference.model_info(model))

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
        return jsonify(error=message), error.code

    @app.errorhandler(preprocessing.PreprocessingError)
    def image_error(error: preprocessing.PreprocessingError):
        """Answer 400 for images that cannot be read, 413 for oversized ones, 422 for blank ones."""
        if isinstance(error, preprocessing.ImageTooLargeError):
            status = 413
        elif isinstance(error, preprocessing.EmptyImageError):
            status = 422
        else:
            status = 400
        return jsonify(error=str(error)), status

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        """Log an unexpected failure and answer a JSON 500 with no stack trace."""
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="The server failed to read this image; please try again."), 500

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


class ClientError(HTTPException):
    """A 4xx whose message is specific to the request."""

    def __init__(self, code: int, message: str):
        super().__init__(description=message)
        self.code = code
        self.api_message = message


def _image_bytes() -> bytes:
    """Return the uploaded image's bytes from whichever of the three request forms was used.

    Raises ClientError (400/415) when no image is present, and ImageDecodeError for bad base64.
    """
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("image")
        if upload is None:
            raise ClientError(400, "The form has no file field named 'image'; send it with -F image=@digit.png.")
        return upload.read()
    if request.mimetype.startswith("image/"):
        return request.get_data()
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ClientError(400, "The body is not a JSON object; send {\"image\": \"data:image/png;base64,...\"}.")
        image = body.get("image")
        if not isinstance(image, str) or not image.strip():
            raise ClientError(400, "The JSON has no 'image' string; send {\"image\": \"data:image/png;base64,...\"}.")
        return preprocessing.decode_base64_image(image)
    if not request.content_length and not request.mimetype:
        raise ClientError(400, "The request has no image; send a PNG of the drawing (see the README for curl examples).")
    raise ClientError(415, ERROR_MESSAGES[415])

"""What a client sends with an image, read one way for /predict and /corrections: the image's bytes, the reading
mode and the JSON body, each wrong part a ``ClientError`` (a 4xx with a message that says what to send).

The image comes in one of three forms (docs/api.md): a multipart form with a file field ``image``, a JSON object
whose ``image`` is a data URL or bare base64, or the raw bytes with an ``image/*`` content type (/predict only).
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import HTTPException

from recognizer import decode
from recognizer.reader import DEFAULT_MODE, MODES

NO_FORM_FILE = "The form has no file field named 'image'; send it with -F image=@digit.png."


class ClientError(HTTPException):
    """A request answered ``code`` (a 4xx, or a 503 where the server cannot take it) with ``{"error": message}``:
    the message says what was wrong and what to send. Raised by the routes and the helpers here; the app answers
    it as JSON (``app.create_app``'s handler of HTTP errors)."""

    def __init__(self, code: int, message: str):
        super().__init__(description=message)
        self.code = code
        self.api_message = message

    def __str__(self) -> str:
        return self.api_message


def json_body(help: str) -> dict:
    """Return the request's JSON object. ``help``: what to send, the end of each message ("send {...}.").

    Raises ClientError (400) for JSON that is not an object, cannot be parsed, or is nested too deeply to parse."""
    try:
        body = request.get_json(silent=True)
    except RecursionError as exc:  # json.loads recurses once per level of nesting; silent= does not catch it
        raise ClientError(400, f"The JSON is nested too deeply; {help}") from exc
    if body is None and request.get_data(cache=True).strip() != b"null":  # silent=: None where parsing failed
        raise ClientError(
            400, f"The body is not valid JSON (or holds a number of over 4,300 digits, Python's limit); {help}"
        )
    if not isinstance(body, dict):
        raise ClientError(400, f"The body is not a JSON object; {help}")
    return body


def form_image() -> bytes:
    """Return the bytes of a multipart form's file field ``image``. Raises ClientError (400) where there is none."""
    upload = request.files.get("image")
    if upload is None:
        raise ClientError(400, NO_FORM_FILE)
    return upload.read()


def json_image(body: dict, help: str) -> bytes:
    """Return the image bytes of a JSON body's ``image`` (a data URL or bare base64, ``decode.decode_base64_image``).
    ``help``: what to send, the end of the message.

    Raises ClientError (400) where it is missing or not a string, and ImageDecodeError for bad base64."""
    image = body.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ClientError(400, f"The JSON has no 'image' string; {help}")
    return decode.decode_base64_image(image)


def request_mode(body: dict | None = None) -> str:
    """Return the reading mode: ``?mode=``, the JSON ``body``'s field ``mode`` (where one was read) or a multipart
    form's field, else ``DEFAULT_MODE`` ("auto"). The same mode may be given in several of these places.

    Raises ClientError (400) for a mode that is not one of ``reader.MODES`` (a string, case-sensitive), and for
    modes that disagree (``?mode=digit&mode=number``, or a query and a field): which one was meant is unknown."""
    given = request.args.getlist("mode")
    if body is not None and body.get("mode") is not None:  # JSON null: not given
        given.append(body["mode"])
    if request.mimetype == "multipart/form-data":
        given += request.form.getlist("mode")
    if not given:
        return DEFAULT_MODE
    expected = f"mode must be one of {', '.join(MODES)} (default {DEFAULT_MODE})"
    mode = given[0]
    if any(other != mode for other in given[1:]):
        shown = ", ".join(repr(m)[:20] for m in given[:4])
        raise ClientError(400, f"{expected}, given once or the same each time (given: {shown}).")
    if not isinstance(mode, str) or mode not in MODES:
        raise ClientError(400, f"{expected}.")
    return mode

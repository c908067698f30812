"""What a correction request holds: the image, a digit label or a number, and the reading mode, from a JSON or
multipart body; each wrong field a ``ClientError`` (400 or 415) that says what to send. The image and the mode are
read as /predict reads them (``client_input``)."""

from __future__ import annotations

import re

from flask import request

from client_input import ClientError, form_image, json_body, json_image, request_mode
from corrections.models import LABELS

# The first bytes of each format /predict accepts, for the stored media type.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"RIFF", "image/webp"),
)
LABEL_HELP = (
    "Send 'label' as a digit 0-9 or \"not_a_digit\", or 'number' as the number written (\"37.50\"), "
    'e.g. {"image": "data:image/png;base64,...", "label": 7}.'
)
# A number as a person gives it: digits, with single separators of the string reader's (.,-/) between them.
NUMBER = re.compile(r"[0-9]+(?:[.,/-][0-9]+)*")
NUMBER_CHARS = 32  # the columns' width (Correction.number_text)
SEND_JSON = 'send {"image": "data:image/png;base64,...", "label": 7}.'


def parse_request() -> tuple[bytes, dict, str]:
    """Return (image bytes, the row's label fields, reading mode) from a JSON or multipart request; the mode from
    ``?mode=`` or the body's field, as /predict takes it (``client_input.request_mode``).

    Raises ClientError: 400 for a missing image or label, a bad mode or modes that disagree, or JSON nested too
    deeply to parse; 415 for
    another body.
    """
    if request.mimetype == "multipart/form-data":
        return form_image(), label_fields(request.form), request_mode()
    if request.is_json:
        body = json_body(LABEL_HELP)
        label = label_fields(body)
        return json_image(body, SEND_JSON), label, request_mode(body)
    raise ClientError(
        415,
        'Send JSON {"image": data URL, "label": 0-9 or "not_a_digit"}, or a multipart form '
        "with a file field 'image' and a field 'label'.",
    )


def label_fields(fields) -> dict:
    """Return the row's ``label``, ``number`` and ``number_text`` from a request's ``label`` or ``number`` (one)."""
    if fields.get("number") is None:
        return {"label": _label(fields.get("label")), "number": None, "number_text": None}
    if fields.get("label") is not None:
        raise ClientError(400, "Send 'label' (a digit) or 'number' (a whole number), not both. " + LABEL_HELP)
    text = fields.get("number")
    text = text.strip() if isinstance(text, str) else str(text) if isinstance(text, int) else ""
    if not (len(text) <= NUMBER_CHARS and NUMBER.fullmatch(text)):
        raise ClientError(
            400,
            f"The number {text[: NUMBER_CHARS + 2]!r} is not digits 0-9, with separators . , - / "
            f"between them, of at most {NUMBER_CHARS} characters. " + LABEL_HELP,
        )
    return {"label": None, "number": re.sub(r"[^0-9]", "", text), "number_text": text}


def _label(value) -> int:
    """Return the stored label for an API label: 0..9 as int or string, or "not_a_digit" (10)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return value
    if isinstance(value, str) and value.strip() in LABELS:
        return LABELS[value.strip()]
    raise ClientError(400, f'The label {str(value)[:20]!r} is not a digit 0-9 or "not_a_digit". ' + LABEL_HELP)


def media_type(data: bytes) -> str:
    """The media type of image bytes by their first bytes (``SIGNATURES``), else application/octet-stream."""
    return next((kind for signature, kind in SIGNATURES if data.startswith(signature)), "application/octet-stream")

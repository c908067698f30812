"""The corrections table: one row per label a person pressed, with what the network saw and said."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import CheckConstraint, DateTime, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()

IMAGE_SIZE = 28  # the network's input side, pixels (model.IMAGE_SIZE; not imported to keep this light)
INPUT_BYTES = IMAGE_SIZE * IMAGE_SIZE  # one stored 28x28 uint8 input
NOT_A_DIGIT = 10  # the label "not_a_digit" in the database and the export: the network's 11th class
LABELS = {**{str(d): d for d in range(10)}, "not_a_digit": NOT_A_DIGIT}  # what the API accepts
NUMBER_LABEL = 255  # the export's per-row ``label`` of a row labelled with a number (its ``number`` holds it)


class Correction(db.Model):
    """A drawing and the label a person gave it: a digit or "not a digit" (``label``), or a number
    (``number``, its digits, and ``number_text``, as written with its separators), never both.

    ``inputs`` holds the 28x28 images the network read (one per digit it found, left to right) as
    uint8 bytes, ink = 255, C order: ``input_count * 784`` bytes. ``reading`` and ``confidence`` are
    the server's own reading at the time, never the client's; ``model_sha256`` names the model file.
    ``secret_sha256`` is the sha256 of the secret returned to the client that made the row, the only key
    that may change or withdraw it. No IP address, cookie or other personal data is stored.
    """

    __tablename__ = "corrections"
    __table_args__ = (
        CheckConstraint("label >= 0 AND label <= 10", name="ck_corrections_label"),
        CheckConstraint("(label IS NULL) <> (number IS NULL)", name="ck_corrections_label_or_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    label: Mapped[int | None] = mapped_column(SmallInteger)  # 0..9, or NOT_A_DIGIT; None for a number
    number: Mapped[str | None] = mapped_column(String(32))  # a number's digits, "3750"; None for a label
    number_text: Mapped[str | None] = mapped_column(String(32))  # the number as written, "37.50"
    image: Mapped[bytes] = mapped_column(LargeBinary)  # the bytes as sent (PNG, JPEG, ...)
    image_type: Mapped[str] = mapped_column(String(16))  # its media type, e.g. "image/png"
    image_size: Mapped[int]  # len(image) in bytes; with the inputs, summed for the storage cap
    inputs: Mapped[bytes] = mapped_column(LargeBinary)  # (input_count, 28, 28) uint8
    input_count: Mapped[int]
    reading: Mapped[str] = mapped_column(String(32))  # the number read, e.g. "7"; "" if none
    confidence: Mapped[float]  # the probability of the strongest digit read, 0..1
    model_sha256: Mapped[str | None] = mapped_column(String(64))  # hex; None if the model has no file
    # hex sha256 of ``image``: the same drawing with the same label is stored once (migration 0002 hashed
    # the rows stored before it)
    image_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    secret_sha256: Mapped[str | None] = mapped_column(String(64))  # hex; None: the row cannot be changed

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def input_images(self) -> np.ndarray:
        """Return the inputs as uint8 (input_count, 28, 28), ink = 255."""
        return np.frombuffer(self.inputs, np.uint8).reshape(self.input_count, IMAGE_SIZE, IMAGE_SIZE)


def stored_bytes():
    """Return the SQL expression of the bytes a row counts against CORRECTIONS_MAX_BYTES: its image and inputs."""
    return Correction.image_size + Correction.input_count * INPUT_BYTES

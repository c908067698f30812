"""Corrections as NumPy arrays in one .npz: training pairs, every input, and the original images.

Arrays (N rows, M training images; no pickled objects, so ``np.load`` needs no allow_pickle):

- ``images`` uint8 (M, 28, 28), ink = 255, and ``labels`` uint8 (M,), 10 = not a digit: what
  ``training.digits.load_extra_data`` trains on. A row adds its one input when the network read one mark;
  a "not a digit" row adds every mark it read (none of them is a digit). A digit label on a drawing
  read as several marks is kept below but not paired: which mark it names is unknown.
- ``image_row`` int64 (M,): the row id each training image came from (to split by drawing).
- per row: ``id`` int64, ``label`` uint8, ``reading`` str, ``confidence`` float32, ``model_sha256``
  str, ``created_at`` str (ISO 8601, UTC), ``original_type`` str (media type).
- ``inputs`` uint8 (K, 28, 28): every row's inputs in row order; row i's are
  ``inputs[input_offsets[i]:input_offsets[i + 1]]``.
- ``originals`` uint8 (B,): the images as sent, concatenated; row i's bytes are
  ``originals[original_offsets[i]:original_offsets[i + 1]]``.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from corrections.models import IMAGE_SIZE, NOT_A_DIGIT, Correction

# PostgreSQL: the export's one SELECT may read the whole store (CORRECTIONS_MAX_BYTES), more than the 2 s
# every other statement gets (corrections.POSTGRES_STATEMENT_MS); still under gunicorn's 20 s timeout.
EXPORT_STATEMENT_MS = 15_000


def export_arrays(session) -> dict[str, np.ndarray]:
    """Read every correction, oldest first, into the arrays described in the module docstring.

    A read: on SQLite it takes no lock (a deferred transaction in WAL mode), so writers go on meanwhile;
    on PostgreSQL its statement may run EXPORT_STATEMENT_MS, then raises sqlalchemy.exc.OperationalError.
    """
    if session.get_bind().dialect.name == "postgresql":  # for this transaction only
        session.execute(select(func.set_config("statement_timeout", str(EXPORT_STATEMENT_MS), True)))
    rows = session.scalars(select(Correction).order_by(Correction.id)).all()
    images, labels, image_row = [], [], []
    for row in rows:
        inputs = row.input_images()
        if row.input_count == 1 or row.label == NOT_A_DIGIT:
            images.extend(inputs)
            labels.extend([row.label] * len(inputs))
            image_row.extend([row.id] * len(inputs))
    empty = np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return {
        "images": np.stack(images) if images else empty,
        "labels": np.array(labels, np.uint8),
        "image_row": np.array(image_row, np.int64),
        "id": np.array([r.id for r in rows], np.int64),
        "label": np.array([r.label for r in rows], np.uint8),
        "reading": np.array([r.reading for r in rows], dtype="U32"),
        "confidence": np.array([r.confidence for r in rows], np.float32),
        "model_sha256": np.array([r.model_sha256 or "" for r in rows], dtype="U64"),
        "created_at": np.array([r.created_at.isoformat() for r in rows], dtype="U32"),
        "original_type": np.array([r.image_type for r in rows], dtype="U16"),
        "inputs": np.concatenate([r.input_images() for r in rows]) if rows else empty,
        "input_offsets": np.cumsum([0] + [r.input_count for r in rows], dtype=np.int64),
        "originals": np.frombuffer(b"".join(r.image for r in rows), np.uint8),
        "original_offsets": np.cumsum([0] + [r.image_size for r in rows], dtype=np.int64),
    }


def write_npz(target, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``target`` (a path or a binary file) as a compressed .npz."""
    np.savez_compressed(target, **arrays)

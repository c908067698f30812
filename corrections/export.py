"""Corrections as NumPy arrays in one .npz, written a page of rows at a time: training pairs, inputs, originals.

Arrays (N rows, M training images; no pickled objects, so ``np.load`` needs no allow_pickle):

- ``images`` uint8 (M, 28, 28), ink = 255, and ``labels`` uint8 (M,), 10 = not a digit: what
  ``training.digits.load_extra_data`` trains on. A row adds its one input when the network read one mark;
  a "not a digit" row adds every mark it read (none of them is a digit); a number row adds every input,
  each labelled with its digit of the number, when the network read as many digits as the number has (the
  inputs are left to right, as the digits are). A digit label on a drawing read as several marks, or a
  number whose count of digits differs from the reading's, is kept below but not paired: which mark each
  digit names is unknown.
- ``image_row`` int64 (M,): the row id each training image came from (to split by drawing).
- per row: ``id`` int64, ``label`` uint8 (255 for a number: see ``number``), ``number`` str (the number's
  digits, "" for a digit label), ``number_text`` str (as written, "37.50"), ``reading`` str, ``confidence``
  float32, ``model_sha256`` str, ``created_at`` str (ISO 8601, UTC), ``original_type`` str (media type).
- ``inputs`` uint8 (K, 28, 28): every row's inputs in row order; row i's are
  ``inputs[input_offsets[i]:input_offsets[i + 1]]``.
- ``originals`` uint8 (B,): the images as sent, concatenated; row i's bytes are
  ``originals[original_offsets[i]:original_offsets[i + 1]]``.

The sizes come first, from one aggregate query (``export_size``), so a caller can refuse an export before any
row is read. Every array's .npy header is written from them, then its data a page of rows at a time, all in
one read-only snapshot of the table: memory holds one page (at most ``IMAGE_PAGE_ROWS`` originals or
``INPUT_PAGE_ROWS`` rows of inputs) and the per-row fields (about 600 bytes a row), never the export.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from sqlalchemy import Connection, Engine, and_, func, or_, select

from corrections.models import IMAGE_SIZE, INPUT_BYTES, NOT_A_DIGIT, NUMBER_LABEL, Correction

IMAGE_PAGE_ROWS = 4  # originals are up to 2 MB each: at most 8 MB of them in memory at once
INPUT_PAGE_ROWS = 256  # inputs are at most 24 x 784 bytes a row: under 5 MB a page
COMPRESS_LEVEL = 1  # deflate for the 28x28 arrays (mostly zeros); the originals, already PNG or JPEG, are stored
PAIRED = or_(  # rows whose inputs train: one digit read for a digit label, "not a digit", a number digit for digit
    and_(Correction.label.is_not(None), Correction.input_count == 1),
    Correction.label == NOT_A_DIGIT,
    and_(Correction.number.is_not(None), func.length(Correction.number) == Correction.input_count),
)


def _paired(row) -> bool:
    """PAIRED for a row read into Python."""
    if row.number is not None:
        return len(row.number) == row.input_count
    return row.input_count == 1 or row.label == NOT_A_DIGIT


def _input_labels(row) -> list[int]:
    """The label of each of a paired row's inputs, left to right."""
    return [int(d) for d in row.number] if row.number is not None else [row.label] * row.input_count


class ExportTooLarge(Exception):
    """The store holds more than the caps an export was asked to stay within; nothing was read."""


@dataclass(frozen=True)
class ExportSize:
    """What an export holds: ``rows`` corrections, ``inputs`` 28x28 inputs (``training_images`` of them
    paired with a label), ``image_bytes`` bytes of originals; ``stored_bytes`` is what the storage cap counts."""

    rows: int
    inputs: int
    training_images: int
    image_bytes: int

    @property
    def stored_bytes(self) -> int:
        """Bytes the storage cap counts (CORRECTIONS_MAX_BYTES): the originals and every input."""
        return self.image_bytes + self.inputs * INPUT_BYTES


def export_size(connection: Connection) -> ExportSize:
    """Return the size of every array of an export of the table as ``connection`` sees it (one query)."""
    rows, inputs, image_bytes, paired = connection.execute(
        select(
            func.count(Correction.id),
            func.coalesce(func.sum(Correction.input_count), 0),
            func.coalesce(func.sum(Correction.image_size), 0),
            func.coalesce(func.sum(Correction.input_count).filter(PAIRED), 0),
        )
    ).one()
    return ExportSize(int(rows), int(inputs), int(paired), int(image_bytes))


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a read-only transaction that sees one snapshot of the table across statements.

    SQLite: a deferred transaction in WAL mode (corrections._sqlite_begin) takes no lock, never waits for a
    writer and keeps the snapshot of its first read. PostgreSQL: REPEATABLE READ, READ ONLY, so rows
    committed meanwhile are not seen; each statement keeps the session's statement_timeout (a page is quick).
    """
    options = (
        {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        if engine.dialect.name == "postgresql"
        else {}
    )
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def write_export(
    connection: Connection, target: BinaryIO, max_rows: int | None = None, max_bytes: int | None = None
) -> ExportSize:
    """Write every correction, oldest first, to ``target`` (a binary file) as the .npz the module describes.

    ``connection`` should be one from ``snapshot`` (every array is read by its own query). Raises
    ExportTooLarge, before reading a row, when the table holds more than ``max_rows`` rows or ``max_bytes``
    stored bytes (originals plus inputs, ``ExportSize.stored_bytes``); sqlalchemy.exc.SQLAlchemyError when
    the database fails, and RuntimeError if the table changed between the queries (not in a snapshot).
    Returns the sizes written.
    """
    size = export_size(connection)
    if (max_rows is not None and size.rows > max_rows) or (max_bytes is not None and size.stored_bytes > max_bytes):
        raise ExportTooLarge(
            f"The store holds {size.rows} corrections and {size.stored_bytes / 2**20:.1f} MB, "
            f"over this export's bound of {max_rows} and {(max_bytes or 0) / 2**20:.1f} MB."
        )
    rows = connection.execute(
        select(
            Correction.id,
            Correction.label,
            Correction.number,
            Correction.number_text,
            Correction.reading,
            Correction.confidence,
            Correction.model_sha256,
            Correction.created_at,
            Correction.image_type,
            Correction.input_count,
            Correction.image_size,
        ).order_by(Correction.id)
    ).all()
    if len(rows) != size.rows:
        raise RuntimeError("The corrections changed during the export; export from a snapshot.")
    counts = np.array([r.input_count for r in rows], np.int64)
    paired = np.array([_paired(r) for r in rows], bool)
    ids = np.array([r.id for r in rows], np.int64)
    small = {
        "labels": np.array([d for r in rows if _paired(r) for d in _input_labels(r)], np.uint8),
        "image_row": np.repeat(ids[paired], counts[paired]),
        "id": ids,
        "label": np.array([NUMBER_LABEL if r.label is None else r.label for r in rows], np.uint8),
        "number": np.array([r.number or "" for r in rows], dtype="U32"),
        "number_text": np.array([r.number_text or "" for r in rows], dtype="U32"),
        "reading": np.array([r.reading for r in rows], dtype="U32"),
        "confidence": np.array([r.confidence for r in rows], np.float32),
        "model_sha256": np.array([r.model_sha256 or "" for r in rows], dtype="U64"),
        "created_at": np.array([r.created_at.isoformat() for r in rows], dtype="U32"),
        "original_type": np.array([r.image_type for r in rows], dtype="U16"),
        "input_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "original_offsets": np.concatenate([[0], np.cumsum([r.image_size for r in rows])]).astype(np.int64),
    }
    del rows
    side = (IMAGE_SIZE, IMAGE_SIZE)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=COMPRESS_LEVEL) as npz:
        _stream(
            npz,
            "images",
            np.uint8,
            (size.training_images, *side),
            _pages(connection, Correction.inputs, INPUT_PAGE_ROWS, PAIRED),
        )
        _stream(npz, "inputs", np.uint8, (size.inputs, *side), _pages(connection, Correction.inputs, INPUT_PAGE_ROWS))
        _stream(
            npz,
            "originals",
            np.uint8,
            (size.image_bytes,),
            _pages(connection, Correction.image, IMAGE_PAGE_ROWS),
            compress=False,
        )
        for name, array in small.items():
            with npz.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return size


def _pages(connection: Connection, column, page_rows: int, where=None) -> Iterator[bytes]:
    """Yield ``column``'s bytes row by row, oldest first, fetched ``page_rows`` rows at a time (a server-side
    cursor on PostgreSQL), so one page at most is in memory."""
    query = select(column).order_by(Correction.id)
    if where is not None:
        query = query.where(where)
    result = connection.execution_options(stream_results=True, yield_per=page_rows).execute(query)
    yield from result.scalars()


def _stream(
    npz: zipfile.ZipFile, name: str, dtype, shape: tuple[int, ...], chunks: Iterator[bytes], compress: bool = True
) -> None:
    """Write the member ``name``.npy: its header for ``shape`` and ``dtype``, then ``chunks`` in C order.

    Raises RuntimeError when the chunks do not fill ``shape`` exactly (the table changed between queries).
    """
    member_name: str | zipfile.ZipInfo = name + ".npy"  # a name takes the archive's compression and level
    if not compress:
        member_name = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
        member_name.compress_type = zipfile.ZIP_STORED
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    written = 0
    with npz.open(member_name, "w", force_zip64=True) as member:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(member, header)
        for chunk in chunks:
            member.write(chunk)
            written += len(chunk)
    if written != expected:
        raise RuntimeError(
            f"The corrections changed during the export ({name}: {written} bytes, "
            f"{expected} expected); export from a snapshot."
        )

"""`flask --app app corrections export PATH.npz`: write every correction to a file for training."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from corrections.export import snapshot, write_export
from corrections.models import db

group = AppGroup("corrections", help="Export the corrections people sent.")


@group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export(path: Path) -> None:
    """Write every correction to PATH (.npz): images, labels, inputs and originals (see corrections.export).

    Written a page of rows at a time, with no bound on the store's size (the download has one).
    """
    try:
        with snapshot(db.engine) as connection, path.open("wb") as target:
            size = write_export(connection, target)
    except BaseException:
        path.unlink(missing_ok=True)  # never a partial .npz that looks whole
        raise
    click.echo(
        f"wrote {path}: {size.rows} corrections, {size.training_images} training images, "
        f"{size.stored_bytes / 2**20:.1f} MB stored"
    )

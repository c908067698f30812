"""`flask --app app corrections export PATH.npz`: write every correction to a file for training."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from corrections.export import export_arrays, write_npz
from corrections.models import db

group = AppGroup("corrections", help="Export the corrections people sent.")


@group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export(path: Path) -> None:
    """Write every correction to PATH (.npz): images, labels, inputs and originals (see corrections.export)."""
    arrays = export_arrays(db.session)
    write_npz(path, arrays)
    click.echo(f"wrote {path}: {len(arrays['id'])} corrections, {len(arrays['images'])} training images "
               f"({int((arrays['labels'] == 10).sum())} not a digit)")

"""The corrections table's schema: its migrations (``migrations/``, Alembic through Flask-Migrate), applied at
start-up only where the database is behind, and the ``flask db`` commands.

Alembic and Flask-Migrate are imported only when a migration runs or a ``flask db`` command is given: loaded in
gunicorn's master before the fork, they held about 10 MB in each of its three processes while the database was
already at ``SCHEMA_REVISION`` (docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SCHEMA_REVISION = "0003"  # the newest revision of migrations/versions (the tests check it is Alembic's head)


def current_revision(engine) -> str | None:
    """The revision a database is at (Alembic's ``alembic_version`` table), or None where it has none yet."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DatabaseError:  # no such table: a new database
        return None


def upgrade(app, db) -> bool:
    """Migrate ``app``'s database to the newest revision unless it is there already; True when a migration ran.

    Runs in an application context. Raises what Alembic or the database raise."""
    if current_revision(db.engine) == SCHEMA_REVISION:
        return False
    from alembic import command

    config = _migrate(app, db).get_config(str(MIGRATIONS))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    return True


def _migrate(app, db):
    """Flask-Migrate on ``app`` (set up on first use; it also puts its own ``flask db`` group in place)."""
    from flask_migrate import Migrate

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(MIGRATIONS))
    return app.extensions["migrate"].migrate


class MigrationCommands(click.Group):
    """``flask db ...``: Flask-Migrate's commands (``flask db upgrade``, the Procfile's release phase), with
    Flask-Migrate and Alembic imported only when one of them is run."""

    def __init__(self, app, db):
        super().__init__("db", help="Database migrations (Flask-Migrate): upgrade, downgrade, current, ...")
        self.app, self.db = app, db

    def _commands(self) -> click.Group:
        _migrate(self.app, self.db)
        from flask_migrate.cli import db as group

        return group

    def make_context(self, info_name, args, parent=None, **extra):
        """The context of Flask-Migrate's own group (its options, and its callback that sets them on ``g``), which
        click then invokes."""
        return self._commands().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx) -> list[str]:
        return self._commands().list_commands(ctx)

    def get_command(self, ctx, name):
        return self._commands().get_command(ctx, name)

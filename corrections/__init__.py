"""Corrections: people tell the page what they really drew, and the project learns from it.

``init_app(app)`` adds POST /corrections (and the token-guarded download), the database
(Flask-SQLAlchemy, migrations by Flask-Migrate in ``migrations/``), the rate limit (Flask-Limiter)
and the ``flask corrections export`` command. /predict never touches the database: with the
database down it still answers, and /corrections answers 503. Nothing here imports TensorFlow.

Settings (app config, else the environment):
    DATABASE_URL                  PostgreSQL URL (postgres:// accepted); default SQLite in the instance folder
    CORRECTIONS_RATE_LIMIT        per client, Flask-Limiter notation; default "10 per minute"
    RATELIMIT_STORAGE_URI         where the limiter counts; default memory:// (per worker)
    CORRECTIONS_TRUSTED_PROXIES   proxies in front that append X-Forwarded-For (1 on Heroku); default 0
    CORRECTIONS_MAX_ROWS          rows kept at most, then 503; default 10000
    CORRECTIONS_MAX_BYTES         bytes of stored images at most, then 503; default 200 MB
    CORRECTIONS_TOKEN             bearer token of GET /corrections/export; unset = no such endpoint
    CORRECTIONS_AUTO_UPGRADE      migrate the schema at start-up; default on for SQLite only
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path

from alembic import command
from flask import Flask
from flask_limiter import Limiter
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from corrections.cli import group
from corrections.models import Correction, db
from corrections.routes import client_key, create_blueprint

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_FILENAME = "corrections.sqlite3"
SQLITE_BUSY_SECONDS = 15  # a writer waits this long for another worker's transaction
POSTGRES_CONNECT_SECONDS = 3  # a down database costs a /corrections request this long at most

__all__ = ["Correction", "db", "init_app", "database_uri"]

log = logging.getLogger(__name__)
migrate = Migrate()


def database_uri(url: str | None, instance_path: str | os.PathLike) -> str:
    """Return the SQLAlchemy URI for DATABASE_URL ``url``: PostgreSQL through psycopg 3, else SQLite.

    ``postgres://`` and ``postgresql://`` (what PaaS add-ons give) become ``postgresql+psycopg://``;
    no URL means the file ``corrections.sqlite3`` in ``instance_path``.
    """
    if not url:
        return f"sqlite:///{Path(instance_path) / SQLITE_FILENAME}"
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def init_app(app: Flask) -> None:
    """Configure the database, the rate limit, the routes and the CLI on ``app``.

    Settings already in ``app.config`` win over the environment. With CORRECTIONS_AUTO_UPGRADE the
    schema is migrated to the latest version here; a failure is logged and only /corrections is off.
    """
    env = os.environ
    config = app.config
    config.setdefault("SQLALCHEMY_DATABASE_URI", database_uri(env.get("DATABASE_URL"), app.instance_path))
    config.setdefault("CORRECTIONS_RATE_LIMIT", env.get("CORRECTIONS_RATE_LIMIT", "10 per minute"))
    config.setdefault("RATELIMIT_STORAGE_URI", env.get("RATELIMIT_STORAGE_URI", "memory://"))
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    config.setdefault("CORRECTIONS_TRUSTED_PROXIES", int(env.get("CORRECTIONS_TRUSTED_PROXIES", "0")))
    config.setdefault("CORRECTIONS_MAX_ROWS", int(env.get("CORRECTIONS_MAX_ROWS", "10000")))
    config.setdefault("CORRECTIONS_MAX_BYTES", int(env.get("CORRECTIONS_MAX_BYTES", str(200 * 2**20))))
    config.setdefault("CORRECTIONS_TOKEN", env.get("CORRECTIONS_TOKEN") or None)
    is_sqlite = make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"
    config.setdefault("CORRECTIONS_AUTO_UPGRADE", env.get("CORRECTIONS_AUTO_UPGRADE", "1" if is_sqlite else "0") == "1")
    if is_sqlite:
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}})
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    else:
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "pool_pre_ping": True, "connect_args": {"connect_timeout": POSTGRES_CONNECT_SECONDS}})

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    limiter = Limiter(client_key, app=app)
    app.register_blueprint(create_blueprint(limiter, config["CORRECTIONS_TOKEN"]))
    app.cli.add_command(group)
    app.extensions["corrections_model_sha256"] = _model_sha256(app.extensions.get("digit_model"))

    if config["CORRECTIONS_AUTO_UPGRADE"]:
        with app.app_context():
            try:
                alembic_config = migrate.get_config(str(MIGRATIONS))
                alembic_config.attributes["configure_logger"] = False
                command.upgrade(alembic_config, "head")  # a no-op when up to date
            except Exception as exc:  # the page and /predict still serve; /corrections answers 503
                log.warning("corrections are off: the database schema could not be created (%s)", exc)
            finally:
                db.engine.dispose()  # no connection crosses gunicorn's fork into the workers


def _model_sha256(model) -> str | None:
    """Return the hex sha256 of the model's file, or None when it has none (a test's fake model)."""
    path = Path(getattr(model, "path", "") or "")
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record) -> None:
    """SQLite: WAL (readers never block the writer) and transactions begun by _sqlite_begin."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # the driver begins nothing itself
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    """SQLite: take the write lock when a transaction begins, so two workers' count-then-insert
    run in turn (waiting up to SQLITE_BUSY_SECONDS) instead of failing on a lock upgrade."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")

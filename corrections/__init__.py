"""Corrections: people tell the page what they really drew, and the project learns from it.

``init_app(app)`` adds POST /corrections (and the token-guarded download), the database
(Flask-SQLAlchemy, migrations by Flask-Migrate in ``migrations/``), the rate limit (Flask-Limiter)
and the ``flask corrections export`` command. /predict never touches the database: with the
database down it still answers, and /corrections answers 503. Nothing here imports TensorFlow.

Settings (app config, else the environment):
    DATABASE_URL                  PostgreSQL URL (postgres:// accepted); default SQLite in the instance folder
    CORRECTIONS_RATE_LIMIT        per client, Flask-Limiter notation; default "10 per minute"
    RATELIMIT_STORAGE_URI         where the limiter counts; default memory:// (per worker)
    CORRECTIONS_TRUSTED_PROXIES   proxies in front that append X-Forwarded-For (1 on Heroku); default 0.
                                  Only where every request comes through them: else X-Forwarded-For is
                                  the client's to forge, and with it the limits' key
    CORRECTIONS_MAX_ROWS          rows kept at most, then 503; default 10000
    CORRECTIONS_MAX_BYTES         bytes of stored images and 28x28 inputs at most, then 503; default 200 MB
    CORRECTIONS_CLIENT_MB_PER_DAY per client, MB stored a day (images and inputs), then 429; default 20; 0 = none
    CORRECTIONS_TOKEN             bearer token of GET /corrections/export; unset = no such endpoint
    CORRECTIONS_TOKEN_RATE_LIMIT  wrong download tokens per client, Flask-Limiter notation; default "10 per hour"
    CORRECTIONS_AUTO_UPGRADE      migrate the schema at start-up; default on for SQLite only
    CORRECTIONS_BREAKER_SECONDS   after a correction's database call fails by a timeout, a lock or a lost
                                  connection, corrections are answered 503 (Retry-After) at once, without
                                  the database, for this long, per worker; default 15; 0 = off
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sqlite3
from pathlib import Path

from flask import Flask
from flask_limiter import Limiter
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from corrections.breaker import Breaker
from corrections.cli import group
from corrections.clients import client_key
from corrections.deadline import guard
from corrections.models import Correction, db
from corrections.routes import create_blueprint, keep_retry_after
from corrections.schema import MigrationCommands, upgrade

SQLITE_FILENAME = "corrections.sqlite3"
# A writer waits this long for another's write lock, then /corrections answers 503: a locked file must
# not hold a worker (and the /predict requests queued behind it). A correction's transaction takes
# milliseconds, so a second covers the other worker's.
SQLITE_BUSY_SECONDS = 1
POSTGRES_CONNECT_SECONDS = 2  # a down or frozen database costs a new connection this long at most (libpq's least)
POSTGRES_LOCK_MS = 1000  # lock_timeout: the advisory lock of another writer, or a table lock, waited for at most
POSTGRES_STATEMENT_MS = 1500  # statement_timeout: any one statement on a slow server; under deadline.REQUEST_SECONDS
POSTGRES_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
# A stalled database costs each worker one bounded wait (1 s SQLite, 2 s PostgreSQL) per cool-down, not one per
# correction; corrections arriving meanwhile are refused at once (corrections.breaker).
BREAKER_SECONDS = 15

__all__ = ["Correction", "db", "init_app", "database_uri"]

log = logging.getLogger(__name__)


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
    config.setdefault("CORRECTIONS_CLIENT_MB_PER_DAY", int(env.get("CORRECTIONS_CLIENT_MB_PER_DAY", "20")))
    config.setdefault("CORRECTIONS_TOKEN_RATE_LIMIT", env.get("CORRECTIONS_TOKEN_RATE_LIMIT", "10 per hour"))
    config.setdefault(
        "CORRECTIONS_BREAKER_SECONDS", float(env.get("CORRECTIONS_BREAKER_SECONDS", str(BREAKER_SECONDS)))
    )
    is_sqlite = make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"
    config.setdefault("CORRECTIONS_AUTO_UPGRADE", env.get("CORRECTIONS_AUTO_UPGRADE", "1" if is_sqlite else "0") == "1")
    if is_sqlite:
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}})
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    else:
        # No pool_pre_ping: corrections.deadline.guard pings a pooled connection itself, under the request's deadline.
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": postgres_connect_args()})

    db.init_app(app)
    if not is_sqlite:
        with app.app_context():
            guard(db.engine)  # a frozen server is cut off at the deadline of the request
    app.cli.add_command(MigrationCommands(app, db))
    app.after_request(keep_retry_after)  # app-wide: runs after the blueprint's hooks, the Limiter's header hook too
    limiter = Limiter(client_key, app=app)
    # Created here, so each gunicorn worker has its own (forked before any request): its state is per process.
    breaker = app.extensions["corrections_breaker"] = Breaker(config["CORRECTIONS_BREAKER_SECONDS"])
    blueprint = create_blueprint(limiter, config["CORRECTIONS_TOKEN"], breaker)
    app.register_blueprint(blueprint)
    hooks_for_blueprint_only(app, limiter, blueprint.name)
    app.cli.add_command(group)
    app.extensions["corrections_model_sha256"] = _model_sha256(app.extensions.get("digit_model"))

    if config["CORRECTIONS_AUTO_UPGRADE"]:
        with app.app_context():
            try:
                upgrade(app, db)  # Alembic is imported only where the database is behind
            except Exception as exc:  # the page and /predict still serve; /corrections answers 503
                log.warning("corrections are off: the database schema could not be created (%s)", exc)
            finally:
                db.engine.dispose()  # no connection crosses gunicorn's fork into the workers


def postgres_connect_args() -> dict:
    """Return psycopg's connection arguments that bound every wait on PostgreSQL (libpq keywords).

    connect_timeout (seconds), TCP keepalives (a peer gone without a FIN is noticed in about 9 s), and
    lock_timeout and statement_timeout (milliseconds) as session settings: a wait past them raises, and
    /corrections answers 503. The export reads a page of rows a statement, each within the same bounds
    (corrections.export).
    """
    return {
        "connect_timeout": POSTGRES_CONNECT_SECONDS,
        **POSTGRES_KEEPALIVE,
        "options": f"-c lock_timeout={POSTGRES_LOCK_MS} -c statement_timeout={POSTGRES_STATEMENT_MS}",
    }


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
    """SQLite: begin a transaction as its ``sqlite_begin`` execution option says, DEFERRED by default.

    A read (the export) takes no lock and, in WAL mode, never waits for or blocks a writer. A writer
    asks for "IMMEDIATE" (corrections.routes._insert, the migrations): it takes the write lock at once,
    so two workers' count-then-insert run in turn, waiting up to SQLITE_BUSY_SECONDS, instead of
    failing on a lock upgrade from a stale snapshot.
    """
    if connection.dialect.name == "sqlite":
        kind = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if kind not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {kind!r}")
        connection.exec_driver_sql(f"BEGIN {kind}")


def hooks_for_blueprint_only(app: Flask, extension: object, blueprint: str) -> None:
    """Run the request hooks that ``extension`` registered app-wide for the requests of ``blueprint`` alone.

    Flask-Limiter's ``init_app`` registers a before_request, an after_request and a teardown_request hook for the
    whole app, and each drawing's /predict paid for them although only the corrections are limited
    (docs/performance.md, seventeenth session). Flask keeps a blueprint's hooks under its name in
    ``before_request_funcs`` and its siblings and runs them for that blueprint's requests only: before_request
    after the app's (``read_streamed_body``), after_request and teardown_request before the app's. A hook is the
    extension's where it is one of its bound methods or a ``functools.partial`` of one.
    """
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        app_wide = hooks.get(None, [])
        mine = [f for f in app_wide if _owner(f) is extension]
        hooks[None] = [f for f in app_wide if f not in mine]
        hooks.setdefault(blueprint, []).extend(mine)


def _owner(hook) -> object:
    """The object a hook is bound to (a bound method's ``__self__``, a partial's first argument), or None."""
    if isinstance(hook, functools.partial):
        return hook.args[0] if hook.args else None
    return getattr(hook, "__self__", None)

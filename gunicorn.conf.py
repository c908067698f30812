"""gunicorn settings, read by the Procfile's `gunicorn -c gunicorn.conf.py "app:create_app()"`."""

import os

from recognizer.backends import backend_name  # the one place MODEL_BACKEND is read

# Heroku-style platforms give the port in $PORT; locally, serve on 127.0.0.1:8000.
bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
# Heroku sets WEB_CONCURRENCY from the dyno size; two workers fit a 512 MB dyno with LiteRT.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gunicorn's threaded worker, but the errors gunicorn answers itself (414, 431, a malformed request, a request
# stopped at the timeout) are JSON with the app's security headers, not gunicorn's HTML page.
worker_class = "gunicorn_worker.JsonErrorWorker"
# Connections each worker handles at once: a client sending its request a byte at a time holds a thread, not
# the worker. The model runs one request at a time per worker (one interpreter, behind a lock), so more
# threads add room for slow clients and database waits, not inference throughput.
threads = 4
# Under the Heroku router's 30 s limit: a request not received and handed to the app within it is answered
# a 503 (JsonErrorWorker's own deadline), and a worker whose main loop stalls is replaced.
timeout = 20
# One listening socket that every worker shares; JsonErrorWorker accepts a new connection only in the worker
# holding the fewest (gunicorn_balance.py). Greedy, the first worker to wake took a whole burst and a client keeping
# its connections alive (a proxy, a load test) kept one worker busy and the other idle; a socket per worker
# (SO_REUSEPORT) spread them by a hash, as unevenly as 6:2 in one run of four at concurrency 8.
reuse_port = False
graceful_timeout = 10
# No access log: a platform's router logs every request already (Heroku's: method, path, status, times, bytes),
# and formatting gunicorn's line was a tenth of a worker's Python time per drawing. Locally, turn it on with
# GUNICORN_CMD_ARGS="--access-logfile -".
accesslog = None
errorlog = "-"
# Load the model once in the master and fork: workers share its pages and a broken model file
# stops the master at once with one line. Only with LiteRT: TensorFlow's threads do not survive fork.
preload_app = backend_name() == "litert"


def on_starting(server) -> None:
    """Stop the master with one line when a TCP address is taken by another program.

    gunicorn itself retries a taken address five times, a second apart, with a line each time. Binding once here
    with the options gunicorn's own sockets take (``gunicorn.sock.BaseSocket.set_options``) fails at once instead.
    Inherited sockets (systemd's LISTEN_FDS, a re-executed master's GUNICORN_FD) and unix sockets are left to
    gunicorn."""
    import os
    import socket
    import sys

    if "LISTEN_FDS" in os.environ or "GUNICORN_FD" in os.environ:
        return
    for address in (a for a in server.cfg.address if isinstance(a, tuple)):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                server.log.error(
                    "Cannot listen at %s:%s (%s): stop the program using it, or set PORT.",
                    *address,
                    error,
                )
                sys.exit(1)


def when_ready(server) -> None:
    """Say the URL to open: gunicorn's own "Listening at" line names 0.0.0.0, which a browser may not open."""
    for host, port in (a for a in server.cfg.address if isinstance(a, tuple)):
        shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else (f"[{host}]" if ":" in host else host)
        server.log.info("Serving at http://%s:%s/", shown, port)


def pre_fork(server, worker) -> None:
    """Freeze what the master holds (the app, the models' Python objects) out of the garbage collector's reach.

    Each worker's full collections then walk only its own objects, not the tens of thousands it inherited,
    and never write to the inherited objects' headers, so their pages stay shared (Python's ``gc.freeze``
    documentation: call it right before ``fork()``)."""
    import gc

    gc.freeze()

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
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections among them.
# On one shared socket the first worker to wake accepted every connection of a burst, and a client keeping its
# connections alive (a proxy, a load test) then kept one worker busy and the other idle: at concurrency 8 one
# run in three served from one worker. Linux, BSD and macOS have it; elsewhere gunicorn shares one socket.
reuse_port = True
graceful_timeout = 10
# No access log: a platform's router logs every request already (Heroku's: method, path, status, times, bytes),
# and formatting gunicorn's line was a tenth of a worker's Python time per drawing. Locally, turn it on with
# GUNICORN_CMD_ARGS="--access-logfile -".
accesslog = None
errorlog = "-"
# Load the model once in the master and fork: workers share its pages and a broken model file
# stops the master at once with one line. Only with LiteRT: TensorFlow's threads do not survive fork.
preload_app = backend_name() == "litert"

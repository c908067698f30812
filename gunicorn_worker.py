"""gunicorn's threaded worker, answering the errors gunicorn writes itself as the app's JSON.

gunicorn answers some requests before the app sees them: a request line over ``limit_request_line``
(414), too many headers or one too large (431), a malformed request line, method, header or chunk (400),
an unknown transfer coding (501), and a request its worker was stopped in (the ``timeout``, or a
shutdown). Its own answer is an HTML page without the security headers; ``JsonErrorWorker`` writes
``{"error": "..."}`` with the headers of every other answer (``app.SECURITY_HEADERS``). gunicorn.conf.py
names it as the ``worker_class``.

It is gunicorn's ``gthread`` worker (``threads`` connections at once per worker), so a client that sends its
request a byte at a time holds one thread, not the worker. gthread's main loop tells the arbiter it is alive
whatever its threads do, so the arbiter's ``timeout`` no longer stops a slow request; ``JsonErrorWorker``
gives each request that deadline itself: a request not received and handed to the app's answer within
``timeout`` seconds gets the JSON 503 and its connection is shut, which frees the thread.
"""

from __future__ import annotations

import ctypes
import io
import json
import socket
import threading
import time
from datetime import datetime

from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import ThreadWorker

from app import MAX_UPLOAD_BYTES, SECURITY_HEADERS
from gunicorn_balance import BEAT_SECONDS, BOARD, RECHECK_SECONDS

MAX_DETAIL = 120  # characters of gunicorn's own description kept in the message (it may quote the request)
_current = threading.local()  # the _Deadline of the request this thread handles, or None


class RequestTimeout(SystemExit):
    """A request stopped at the worker's ``timeout``: answered as a worker stopped mid-request (a 503)."""


def error_answer(exc: BaseException, limits) -> tuple[int, str, str]:
    """Return (status, reason phrase, message) for an exception raised while gunicorn handled a request.

    ``limits`` is gunicorn's config (``limit_request_line``, ``limit_request_fields``,
    ``limit_request_field_size``, ``timeout``), quoted in the messages. The statuses are gunicorn's own
    (``gunicorn.workers.base.Worker.handle_error``), except a worker stopped mid-request (SystemExit: the
    worker timeout or a shutdown), which is a 503 rather than a 500: the client may try again.
    """
    detail = str(exc)[:MAX_DETAIL]
    if isinstance(exc, (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName)):
        pass  # the app's fault, not the client's: a 500 below
    elif isinstance(exc, errors.LimitRequestLine):
        return (
            414,
            "URI Too Long",
            (
                f"The request line is longer than {limits.limit_request_line} bytes ({detail}); "
                "send the image in the body of a POST, not in the URL."
            ),
        )
    elif isinstance(exc, errors.LimitRequestHeaders):
        return (
            431,
            "Request Header Fields Too Large",
            (
                f"The request has more than {limits.limit_request_fields} headers or a header over "
                f"{limits.limit_request_field_size} bytes ({detail}); send fewer and shorter headers."
            ),
        )
    elif isinstance(exc, errors.UnsupportedTransferCoding):
        return (
            501,
            "Not Implemented",
            (f"{detail}; send the body with a Content-Length or 'Transfer-Encoding: chunked'."),
        )
    elif isinstance(exc, errors.ExpectationFailed):
        return 417, "Expectation Failed", f"{detail}; only 'Expect: 100-continue' is understood."
    elif isinstance(exc, errors.ForbiddenProxyRequest):
        return 403, "Forbidden", "This proxy may not send requests here."
    elif isinstance(exc, errors.ConfigurationProblem):
        return 500, "Internal Server Error", "The server is misconfigured for this request; please try again later."
    elif isinstance(exc, errors.ParseException):
        return (
            400,
            "Bad Request",
            (
                f"The request is not valid HTTP/1.1 ({detail}); send it with an HTTP client, "
                "e.g. curl -F image=@digit.png <host>/predict."
            ),
        )
    elif isinstance(exc, SystemExit):
        return (
            503,
            "Service Unavailable",
            (
                f"The server stopped this request: it was not received and answered within {limits.timeout} s, "
                "or the server is restarting; please try again."
            ),
        )
    return 500, "Internal Server Error", "The server failed to answer this request; please try again."


def json_error(status: int, reason: str, message: str) -> bytes:
    """Return a whole HTTP/1.1 response: ``{"error": message}`` as JSON, the security headers, Connection: close."""
    body = json.dumps({"error": message}).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "Cache-Control": "no-store",
        **SECURITY_HEADERS,
    }
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


M_ARENA_MAX = -8  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_TRIM_THRESHOLD = -1
# Allocations of at least this many bytes (an image being decoded, a photo's 4 MB arrays) are mapped, and given
# back to the system when freed. glibc raises its threshold (from 128 KB up to 32 MB) after a large block is
# freed, and the next costly images then stayed in the heap, out of ``malloc_trim``'s reach: eight costly
# images at once took the master and two workers from 247 to 512 MB summed RSS, 505 MB after; with 1 MiB fixed,
# 391 MB at the peak and 283 MB after (docs/performance.md, 2026-12-06).
MMAP_THRESHOLD = 2**20
# Fixing the mmap threshold also freezes glibc's trim threshold at 128 KB (mallopt(3)), so the heap's top would be
# given back and taken again on every request; the small allocations keep up to this much instead.
TRIM_THRESHOLD = 32 * 2**20


def one_malloc_arena() -> None:
    """Make this process's threads share glibc's one malloc arena (as ``MALLOC_ARENA_MAX=1`` would), and map
    allocations of ``MMAP_THRESHOLD`` bytes or more (as ``MALLOC_MMAP_THRESHOLD_`` would; fixing it also stops
    glibc from raising it, mallopt(3)), keeping up to ``TRIM_THRESHOLD`` bytes free at the heap's top.

    By default each new thread gets an arena of its own, and an image decoded in one thread leaves its pages
    in that thread's arena, unused by the others: a worker's memory grew by one decode's worth per thread.
    The app runs one request at a time per worker, so the threads never contend for the arena. Not glibc
    (musl, macOS): nothing to do.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_ARENA_MAX, 1)
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


TRIM_AFTER_BYTES = 64 * 1024  # a body this large may be an image of millions of pixels


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim(0)``; elsewhere nothing).

    A 2896x2896 RGBA PNG decodes through about 70 MB of arrays; freed, glibc keeps most of them, so eight such
    requests in a row left the server at 516 MB RSS (``bench.limits --parallel 8``). A fraction of a millisecond
    after a large request, never after a drawing."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Unreadable:
    """A request body whose reading failed: every read raises that error again, for the app to answer."""

    def __init__(self, error: Exception):
        self.error = error

    def read(self, *_args):
        raise self.error

    readline = read


def _declared_length(req) -> int:
    """The request's Content-Length as a number (0 where it has none or it is not one)."""
    value = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), "")
    return int(value) if value.isdigit() else 0


def buffer_body(environ: dict) -> None:
    """Read the request body into memory, up to ``MAX_UPLOAD_BYTES`` + 1 bytes, in place of ``wsgi.input``.

    A body declared larger is left unread (the app answers 413 without reading it); a chunked one is read up
    to one byte over the limit, so the app still sees that it is too large. An error while reading (a
    malformed chunk, a client gone) is raised again by the app's first read, as it would have been.
    """
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
        return
    stream = environ["wsgi.input"]
    try:
        environ["wsgi.input"] = io.BytesIO(stream.read(int(length) if length else MAX_UPLOAD_BYTES + 1))
    except Exception as error:  # gunicorn's InvalidChunkSize, NoMoreData, ...
        environ["wsgi.input"] = _Unreadable(error)


class _Deadline:
    """Answer one connection's request a JSON 503 and shut it once ``due`` (a ``time.monotonic()``) has passed,
    unless by then the app has begun its answer (``answering``) or the request is done (``stop``). The worker's
    watchdog thread calls ``expire`` (one thread per worker, not a timer thread per request)."""

    def __init__(self, worker: JsonErrorWorker, conn, seconds: float):
        self.worker, self.conn, self.lock, self.state = worker, conn, threading.Lock(), "reading"
        self.seconds = seconds
        self.due = time.monotonic() + seconds

    def answering(self) -> None:
        """The app begins its answer: the request's deadline is lifted, and from now each write of the answer must
        finish within the same ``seconds`` (a socket timeout), so a client that stops reading (one pipelining
        requests it never reads the answers of, its buffers full) holds the thread that long, not for ever. A
        timeout per write, not for the whole answer: a slow client reading a large answer steadily keeps going."""
        with self.lock:  # waits for an expiry under way: the app's answer then meets a shut socket (EPIPE)
            if self.state == "reading":
                self.state = "answering"
                self.conn.sock.settimeout(self.seconds)

    def stop(self) -> None:
        with self.lock:
            if self.state != "expired":
                self.state = "done"

    @property
    def expired(self) -> bool:
        return self.state == "expired"

    def expire(self) -> None:
        with self.lock:
            if self.state != "reading":
                return
            self.state = "expired"
            self.worker.handle_error(None, self.conn.sock, self.conn.client, RequestTimeout(1))
            try:  # ends the thread's blocking read of the request at once (EOF), and the connection
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


WATCH_SECONDS = 0.05  # how often the watchdog looks for requests past their deadline


class JsonErrorWorker(ThreadWorker):
    """gunicorn's gthread worker whose own error answers are JSON with the security headers, whose requests
    each end at the ``timeout`` (see the module), and which accepts new connections only while it holds no more
    than any other worker (``gunicorn_balance``)."""

    def init_process(self) -> None:
        one_malloc_arena()
        BOARD.take(self.age)
        self.deadlines: set[_Deadline] = set()
        self.deadlines_lock = threading.Lock()
        threading.Thread(target=self.watch_deadlines, name="deadlines", daemon=True).start()
        super().init_process()

    def watch_deadlines(self) -> None:
        """Every ``WATCH_SECONDS``, answer the requests past their deadline (``_Deadline.expire``)."""
        while True:
            time.sleep(WATCH_SECONDS)
            now = time.monotonic()
            with self.deadlines_lock:
                late = [deadline for deadline in self.deadlines if deadline.due <= now]
            for deadline in late:
                deadline.expire()

    def set_accept_enabled(self, enabled: bool) -> None:
        """Listen for new connections where gthread would and this worker is the least loaded (``BOARD``)."""
        super().set_accept_enabled(enabled and self.alive and BOARD.least_loaded(self.nr_conns))

    def accept(self, listener) -> None:
        """Accept a connection as gthread does, count it at once and stop listening if others now hold fewer."""
        super().accept(listener)
        BOARD.beat(self.nr_conns)
        self.set_accept_enabled(self._accepting)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """One turn of gthread's event loop, after writing this worker's connections and heartbeat and listening
        or not as the board says; a worker not listening looks again within ``RECHECK_SECONDS``."""
        if not self.alive:  # stopping (a signal, max_requests): it takes no more connections
            BOARD.leave()
            return super().wait_for_and_dispatch_events(timeout)
        BOARD.beat(self.nr_conns)
        self.set_accept_enabled(self.nr_conns < self.worker_connections)
        super().wait_for_and_dispatch_events(min(timeout, BEAT_SECONDS if self._accepting else RECHECK_SECONDS))

    def handle_exit(self, sig, frame) -> None:
        """A graceful stop (SIGTERM): leave the board, so the other workers take the new connections."""
        BOARD.leave()
        super().handle_exit(sig, frame)

    def load_wsgi(self) -> None:
        """Load the app, wrapped so that it runs one request at a time per worker, on a body already read.

        The request's body (up to ``MAX_UPLOAD_BYTES`` + 1) is read in the request's own thread before the
        app is entered, so a slow upload holds its thread only; the app itself then runs under the worker's
        lock, so decoding and the model use a worker's memory as a sync worker did (one image at a time),
        whatever ``threads`` is. The app's ``start_response`` lifts the request's deadline.
        """
        super().load_wsgi()
        app, lock = self.wsgi, threading.Lock()

        def wsgi(environ, start_response):
            deadline = getattr(_current, "deadline", None)

            def answering(*args):
                if deadline is not None:
                    deadline.answering()
                return start_response(*args)

            buffer_body(environ)
            with lock:
                answer = app(environ, answering)
                if int(environ.get("CONTENT_LENGTH") or 0) > TRIM_AFTER_BYTES or environ.get("HTTP_TRANSFER_ENCODING"):
                    release_free_memory()  # a large image's decode leaves tens of MB freed but held by malloc
                return answer

        self.wsgi = wsgi

    def handle(self, conn):
        """Handle one request on ``conn`` as gthread does, within ``cfg.timeout`` seconds."""
        deadline = _Deadline(self, conn, self.cfg.timeout)
        with self.deadlines_lock:
            self.deadlines.add(deadline)
        _current.deadline = deadline
        try:
            keep = super().handle(conn)
        finally:
            deadline.stop()
            _current.deadline = None
            with self.deadlines_lock:
                self.deadlines.discard(deadline)
        return False if deadline.expired else keep

    def handle_request(self, req, conn):
        """Handle one request as gthread does; a client that stopped reading its answer (a write past the
        ``timeout``, ``_Deadline.answering``) has its connection closed with one line in the log, not a traceback.
        A client that asks leave to send a body (``Expect: 100-continue``) declared over ``MAX_UPLOAD_BYTES`` is not
        given it: gunicorn would answer 100 Continue before the app's 413, and the client would send the body
        (RFC 9110, 10.1.1: a server may answer with the final status instead)."""
        if getattr(req, "_expected_100_continue", False) and _declared_length(req) > MAX_UPLOAD_BYTES:
            req._expected_100_continue = False
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            self.log.info("Closed a connection whose client read none of its answer for %s s", self.cfg.timeout)
            raise StopIteration() from None  # gthread's handle closes the connection, as after a client's goodbye

    def handle_abort(self, sig, frame) -> None:
        """The arbiter stops this worker (its main loop stalled, or a shutdown): answer what is still being read."""
        with self.deadlines_lock:
            pending = list(self.deadlines)
        for deadline in pending:
            deadline.expire()
        super().handle_abort(sig, frame)

    def handle_error(self, req, client, addr, exc: BaseException) -> None:
        """Log the failed request as gunicorn does and answer ``json_error(*error_answer(exc, self.cfg))``.

        Called by gunicorn for an exception raised before the app answered (a parse error, a limit, the
        worker stopped). A client that has gone away is not an error: the write failure is logged at debug.
        """
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket has no address
        status, reason, message = error_answer(exc, self.cfg)
        if status < 500:
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
        elif isinstance(exc, SystemExit):
            self.log.error(
                "Request stopped (worker timeout or shutdown): %s %s",
                getattr(req, "method", "-"),
                getattr(req, "uri", "(no request line read)"),
            )
        else:
            self.log.exception(
                "Error handling request %s %s",
                getattr(req, "method", "-"),
                getattr(req, "uri", "(no request line read)"),
            )
        answer = json_error(status, reason, message)
        if req is None and isinstance(exc, (errors.InvalidHeader, errors.InvalidHeaderName)):
            req = getattr(exc, "req", None)  # gunicorn attaches the request for the access log
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = addr[0], str(addr[1])
            response = Response(req, client, self.cfg)
            response.status = f"{status} {reason}"
            response.response_length = len(answer)
            self.log.access(response, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, answer)
        except Exception:  # the client hung up
            self.log.debug("Failed to send error message.")

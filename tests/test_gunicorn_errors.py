"""Issue 24, finding 7: every answer over real HTTP is JSON with the security headers, gunicorn's own included.

gunicorn answers a request line too long, too many or too large headers and malformed requests before the
app sees them, and a request stopped at the worker timeout; ``gunicorn_worker.JsonErrorWorker`` (the
``worker_class`` of gunicorn.conf.py) writes those as the app does. gunicorn is started as the Procfile
starts it, with a 4 s worker timeout (GUNICORN_CMD_ARGS) so the stopped request is quick to see.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from gunicorn.http import errors

from app import SECURITY_HEADERS
from bench import gunicorn_process
from gunicorn_worker import error_answer, json_error
from synth.canvas import encode
from synth.digits import stroke_digit

TIMEOUT_S = 4  # the worker timeout of this test's gunicorn (the Procfile's is 20 s)
LIMITS = SimpleNamespace(limit_request_line=4094, limit_request_fields=100, limit_request_field_size=8190, timeout=20)


def request(lines: list[str], body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# What gunicorn itself refuses, before the app sees the request (the list), and Flask's own errors.
RAW = {
    "URL of 8,000 characters": (request(["GET /" + "a" * 8000 + " HTTP/1.1", "Host: x"]), 414),
    "101 headers": (request(["GET / HTTP/1.1", "Host: x"] + [f"X-H{i}: 1" for i in range(101)]), 431),
    "one 9 KB header": (request(["GET / HTTP/1.1", "Host: x", "X-Big: " + "b" * 9000]), 431),
    "a request line that is not HTTP": (request(["GARBAGE"]), 400),
    "a bad method": (request(["G@T / HTTP/1.1", "Host: x"]), 400),
    "a bad HTTP version": (request(["GET / HTTP/9.x", "Host: x"]), 400),
    "a bad header name": (request(["GET / HTTP/1.1", "Host: x", "Bad Header: 1"]), 400),
    "a bad Content-Length": (request(["POST /predict HTTP/1.1", "Host: x", "Content-Length: abc"]), 400),
    "Content-Length with Transfer-Encoding": (
        request(["POST /predict HTTP/1.1", "Host: x", "Content-Length: 3", "Transfer-Encoding: chunked"], b"abc"),
        400,
    ),
    "an unknown transfer coding": (  # gunicorn 27 refuses it as an invalid header
        request(["POST /predict HTTP/1.1", "Host: x", "Transfer-Encoding: gzip"], b"abc"),
        400,
    ),
    "Flask: an unknown path": (request(["GET /nothing-here HTTP/1.1", "Host: x"]), 404),
    "Flask: a wrong method": (request(["GET /predict HTTP/1.1", "Host: x"]), 405),
    "Flask: a body over 2 MB": (
        request(["POST /predict HTTP/1.1", "Host: x", "Content-Type: image/png", "Content-Length: 3000000"]),
        413,
    ),
    "Flask: bytes that are not an image": (
        request(["POST /predict HTTP/1.1", "Host: x", "Content-Type: image/png", "Content-Length: 4"], b"junk"),
        400,
    ),
}


def exchange(url: str, raw: bytes, timeout: float = 10) -> tuple[int, http.client.HTTPMessage, bytes, float]:
    """Send ``raw`` on a fresh connection; return status, headers, body and seconds to the answer."""
    parts = urlsplit(url)
    start = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.headers, response.read(), time.perf_counter() - start


def assert_json_error(status: int, headers, body: bytes, expected: int) -> str:
    assert status == expected, body[:300]
    assert headers.get_content_type() == "application/json", body[:300]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    message = json.loads(body)["error"]
    assert isinstance(message, str) and len(message) > 20
    return message


@pytest.fixture(scope="module")
def server():
    seven = encode(stroke_digit(7))
    env = {"GUNICORN_CMD_ARGS": f"--timeout {TIMEOUT_S}", "MODEL_BACKEND": "litert"}
    with gunicorn_process.start(seven, env=env) as running:
        yield running


def first_line(url: str, head: bytes, body: bytes | None = None) -> tuple[bytes, bytes]:
    """Send ``head``, read the first answer line; then send ``body`` (if any): (first line, all that follows)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head)
        received = b""
        while b"\r\n" not in received:
            received += sock.recv(4096) or b"\r\n"
        line, _, rest = received.partition(b"\r\n")
        if body is not None:
            sock.sendall(body)
            while chunk := sock.recv(65536):
                rest += chunk
        return line, rest


@pytest.mark.slow
def test_a_body_declared_over_the_limit_is_refused_without_a_100_continue_and_a_small_one_gets_it(server):
    # A helper attacking the server: "Expect: 100-continue" with a Content-Length of 1 GB was answered 100 Continue
    # (come on, send it) and then 413.
    head = ["POST /predict HTTP/1.1", "Host: x", "Content-Type: image/png", "Expect: 100-continue"]
    line, rest = first_line(server.url, request([*head, "Content-Length: 1000000000"]))
    assert line.startswith(b"HTTP/1.1 413"), line
    seven = encode(stroke_digit(7))
    line, rest = first_line(server.url, request([*head, f"Content-Length: {len(seven)}", "Connection: close"]), seven)
    assert line == b"HTTP/1.1 100 Continue" and b"HTTP/1.1 200 OK" in rest, (line, rest[:200])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RAW))
def test_every_error_over_http_is_json_with_the_security_headers(server, name):
    raw, expected = RAW[name]
    status, headers, body, _ = exchange(server.url, raw)
    assert_json_error(status, headers, body, expected)
    assert gunicorn_process.post(server.url + "/predict", encode(stroke_digit(7)))[0] == 200  # still serving


@pytest.mark.slow
def test_a_request_stopped_at_the_worker_timeout_is_a_json_503(server):
    # A client that sends half its headers and waits: JsonErrorWorker's deadline stops the request at the
    # worker timeout and answers a JSON 503 (with sync workers, gunicorn's arbiter stopped the whole worker
    # there and gunicorn's own answer was an HTML 500).
    status, headers, body, seconds = exchange(
        server.url, b"POST /predict HTTP/1.1\r\nHost: x\r\n", timeout=TIMEOUT_S + 10
    )
    message = assert_json_error(status, headers, body, 503)
    assert f"{TIMEOUT_S} s" in message
    assert TIMEOUT_S <= seconds < TIMEOUT_S + 3


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.LimitRequestLine(8000, 4094), 414),
        (errors.LimitRequestHeaders("too many headers"), 431),
        (errors.InvalidRequestLine("GARBAGE"), 400),
        (errors.InvalidHeaderName("Bad Header"), 400),
        (errors.InvalidChunkSize(b"zz"), 400),
        (errors.UnsupportedTransferCoding("gzip"), 501),
        (errors.InvalidResponseHeader("X: \n"), 500),  # the app's fault, not the client's
        (SystemExit(1), 503),
        (RuntimeError("boom"), 500),
    ],
)
def test_each_exception_gets_its_status_and_a_sentence(exc, status):
    code, reason, message = error_answer(exc, LIMITS)
    assert code == status and reason and len(message) > 20 and "boom" not in message
    head, body = json_error(code, reason, message).split(b"\r\n\r\n", 1)
    assert head.startswith(f"HTTP/1.1 {code} {reason}\r\n".encode())
    assert f"Content-Length: {len(body)}".encode() in head and json.loads(body) == {"error": message}


# ---- slow clients (issue 24, finding 8: two dribbling connections stalled both sync workers) ----------


def dribble(url: str, head: bytes, seconds: float, answers: list) -> None:
    """Send ``head``, then one more byte every 0.2 s, until the server answers; append what it said."""
    parts = urlsplit(url)
    start = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=seconds) as sock:
        sock.sendall(head)
        try:
            while time.perf_counter() - start < seconds:
                sock.sendall(b"x")
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable:
                    break
        except OSError:  # the server closed its side while we were still sending
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        answers.append((response.status, response.headers, response.read(), time.perf_counter() - start))


SLOW = {  # the headers are read by gunicorn's parser, the body by Flask
    "headers": b"GET /healthz HTTP/1.1\r\nX-Slow: ",
    "body": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("part", list(SLOW))
def test_two_slow_clients_do_not_stall_predict_and_end_at_the_timeout(server, part):
    # Each worker handles `threads` connections at once (gunicorn's gthread worker): two clients that dribble
    # their headers (or body) hold a thread each, and /predict is answered at once by another. Each slow client
    # still gets its JSON 503 at the timeout (20 s as deployed, TIMEOUT_S here), which frees its thread.
    answers: list = []
    threads = [
        threading.Thread(target=dribble, args=(server.url, SLOW[part], TIMEOUT_S + 10, answers)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # both slow clients are now being read
    start = time.perf_counter()
    status, body = gunicorn_process.post(server.url + "/predict", encode(stroke_digit(7)), timeout=TIMEOUT_S + 10)
    waited = time.perf_counter() - start
    for thread in threads:
        thread.join()
    print(f"\n/predict behind two clients sending their {part} slowly: {waited:.2f} s (worker timeout {TIMEOUT_S} s)")
    assert status == 200 and body["digit"] == 7
    assert waited < 1
    assert len(answers) == 2
    for status, headers, answer, seconds in answers:
        assert_json_error(status, headers, answer, 503)
        assert TIMEOUT_S <= seconds < TIMEOUT_S + 2


def pipeline_unread(url: str, stop: threading.Event) -> None:
    """Send 3,000 requests on one connection with a small receive buffer, read none of the answers, and keep the
    connection open until ``stop``: the server's write of an answer then blocks on full buffers."""
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((parts.hostname, parts.port))
        sock.settimeout(1)
        try:
            sock.sendall(b"GET /static/js/app.js HTTP/1.1\r\nHost: x\r\n\r\n" * 3000)
        except OSError:  # the server stopped reading them (it closed the connection, or its buffer is full)
            pass
        stop.wait()


@pytest.mark.slow
def test_clients_that_never_read_their_answers_free_their_threads_at_the_timeout(server):
    # A helper's attack (2026-12-06): 8 or more connections (2 workers x 4 threads; 24 here, as the kernel spreads
    # them among the workers) pipelining requests and reading none of the answers held every thread in a blocking
    # write, with no end; /predict then waited for ever. Each write of an answer now ends at the worker timeout
    # (gunicorn_worker._Deadline.answering), which frees the thread.
    stop = threading.Event()
    clients = [threading.Thread(target=pipeline_unread, args=(server.url, stop), daemon=True) for _ in range(24)]
    for client in clients:
        client.start()
    try:
        time.sleep(3.0)  # every thread is now stuck writing an answer nobody reads
        start = time.perf_counter()
        status, body = gunicorn_process.post(
            server.url + "/predict", encode(stroke_digit(7)), timeout=3 * TIMEOUT_S + 10
        )
        waited = time.perf_counter() - start
    finally:
        stop.set()
    print(f"\n/predict behind 24 clients that never read: {waited:.2f} s (worker timeout {TIMEOUT_S} s)")
    assert status == 200 and body["digit"] == 7

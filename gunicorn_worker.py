"""gunicorn's sync worker, answering the errors gunicorn writes itself as the app's JSON.

gunicorn answers some requests before the app sees them: a request line over ``limit_request_line``
(414), too many headers or one too large (431), a malformed request line, method, header or chunk (400),
an unknown transfer coding (501), and a request its worker was stopped in (the ``timeout``, or a
shutdown). Its own answer is an HTML page without the security headers; ``JsonErrorWorker`` writes
``{"error": "..."}`` with the headers of every other answer (``app.SECURITY_HEADERS``). gunicorn.conf.py
names it as the ``worker_class``.
"""

from __future__ import annotations

import json
from datetime import datetime

from gunicorn import util
from gunicorn.http import errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.sync import SyncWorker

from app import SECURITY_HEADERS

MAX_DETAIL = 120  # characters of gunicorn's own description kept in the message (it may quote the request)


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
        return 414, "URI Too Long", (f"The request line is longer than {limits.limit_request_line} bytes ({detail}); "
                                     "send the image in the body of a POST, not in the URL.")
    elif isinstance(exc, errors.LimitRequestHeaders):
        return 431, "Request Header Fields Too Large", (
            f"The request has more than {limits.limit_request_fields} headers or a header over "
            f"{limits.limit_request_field_size} bytes ({detail}); send fewer and shorter headers.")
    elif isinstance(exc, errors.UnsupportedTransferCoding):
        return 501, "Not Implemented", (f"{detail}; send the body with a Content-Length or "
                                        "'Transfer-Encoding: chunked'.")
    elif isinstance(exc, errors.ExpectationFailed):
        return 417, "Expectation Failed", f"{detail}; only 'Expect: 100-continue' is understood."
    elif isinstance(exc, errors.ForbiddenProxyRequest):
        return 403, "Forbidden", "This proxy may not send requests here."
    elif isinstance(exc, errors.ConfigurationProblem):
        return 500, "Internal Server Error", "The server is misconfigured for this request; please try again later."
    elif isinstance(exc, errors.ParseException):
        return 400, "Bad Request", (f"The request is not valid HTTP/1.1 ({detail}); send it with an HTTP client, "
                                    "e.g. curl -F image=@digit.png <host>/predict.")
    elif isinstance(exc, SystemExit):
        return 503, "Service Unavailable", (
            f"The server stopped this request: it was not received and answered within {limits.timeout} s, "
            "or the server is restarting; please try again.")
    return 500, "Internal Server Error", "The server failed to answer this request; please try again."


def json_error(status: int, reason: str, message: str) -> bytes:
    """Return a whole HTTP/1.1 response: ``{"error": message}`` as JSON, the security headers, Connection: close."""
    body = json.dumps({"error": message}).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close",
               "Cache-Control": "no-store", **SECURITY_HEADERS}
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker whose own error answers are JSON with the security headers (see the module)."""

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
            self.log.error("Request stopped (worker timeout or shutdown): %s %s",
                           getattr(req, "method", "-"), getattr(req, "uri", "(no request line read)"))
        else:
            self.log.exception("Error handling request %s %s", getattr(req, "method", "-"),
                               getattr(req, "uri", "(no request line read)"))
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

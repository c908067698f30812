"""The client of a correction: its address for the limits, its daily budget of stored bytes, and the refusal
answered to it (``client_input.ClientError``)."""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_limiter import Limiter
from limits import parse

from client_input import ClientError
from corrections.models import Correction

log = logging.getLogger(__name__)


class Budget:
    """Each client's daily budget of stored bytes (CORRECTIONS_CLIENT_MB_PER_DAY; 0: none), counted by ``limiter``.

    A correction costs what the storage cap counts for it (its image and inputs), in KiB rounded up, and is
    charged only once stored, so a duplicate or a refusal costs nothing. The count lives where the rate
    limit's does (RATELIMIT_STORAGE_URI: per worker with memory://).
    """

    def __init__(self, limiter: Limiter):
        self.limiter = limiter

    def _item(self):
        megabytes = current_app.config["CORRECTIONS_CLIENT_MB_PER_DAY"]
        return parse(f"{megabytes * 1024} per day") if megabytes > 0 else None

    @staticmethod
    def cost(row: Correction) -> int:
        """Return ``row``'s cost in KiB: its image and its 28x28 inputs, rounded up."""
        return -(-(row.image_size + len(row.inputs)) // 1024)

    def check(self, cost: int) -> None:
        """Raise ClientError (429) when ``cost`` KiB would take the client past today's budget."""
        item = self._item()
        if item is not None and not self.limiter.limiter.test(item, "corrections-budget", client_key(), cost=cost):
            megabytes = current_app.config["CORRECTIONS_CLIENT_MB_PER_DAY"]
            raise ClientError(
                429,
                f"This address has sent its {megabytes} MB of corrections for today; "
                "thank you, and please try again tomorrow.",
            )

    def charge(self, cost: int) -> None:
        """Count ``cost`` KiB against the client's budget for today. Never raises: the row is stored already,
        so a failing limiter storage (a Redis down) is logged and the answer stays 201."""
        item = self._item()
        if item is None:
            return
        try:
            self.limiter.limiter.hit(item, "corrections-budget", client_key(), cost=cost)
        except Exception as error:
            log.warning("the corrections budget could not be counted: %s", error)


def client_key() -> str:
    """Return the client's address for the rate limit (never stored with a correction).

    Behind ``CORRECTIONS_TRUSTED_PROXIES`` proxies (1 on Heroku) it is the address the last trusted
    proxy appended to X-Forwarded-For; with 0, the socket's peer.
    """
    hops = current_app.config["CORRECTIONS_TRUSTED_PROXIES"]
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.remote_addr or "unknown"

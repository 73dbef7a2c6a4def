"""Bot API requests that a 5xx does not lose: Telegram's servers restarting are waited out."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram.request import BaseRequest, HTTPXRequest, RequestData

if TYPE_CHECKING:
    # The type PTB declares request timeouts with: a float, None, or "not passed" (DEFAULT_NONE).
    from telegram._utils.types import ODVInput

log = logging.getLogger(__name__)

RETRIES = 3
BACKOFF_FIRST = 1.0  # seconds; doubled after every 5xx
POOL_SIZE = 256  # what ApplicationBuilder gives its own request object


class RetryingRequest(HTTPXRequest):
    """Retries a request the Bot API answered with a 5xx, waiting longer each time.

    A 5xx means Telegram's front end could not hand the request on (Telegram's documentation
    asks bots to retry); without this an answer would be replaced by an error message. 429 is
    the rate limiter's (it honours retry_after), and a timeout is not retried: the message may
    already have been sent, and sending it twice is worse than once late. Not used for
    getUpdates, whose polling loop already backs off.
    """

    def __init__(
        self,
        *,
        retries: int = RETRIES,
        backoff_first: float = BACKOFF_FIRST,
        connection_pool_size: int = POOL_SIZE,
    ) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self._retries, self._backoff_first = retries, backoff_first

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        delay, attempt = self._backoff_first, 0
        while True:
            code, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
            if code < 500 or attempt >= self._retries:
                return code, payload
            attempt += 1
            # Never the URL: it holds the bot token (and the method's name is all that helps).
            endpoint = url.rsplit("/", 1)[-1]
            log.warning("Bot API answered %s to %s; retrying in %.1fs", code, endpoint, delay)
            await asyncio.sleep(delay)
            delay *= 2

"""WSGI-level plumbing that must act before Django builds its request: a length for chunked request bodies."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.conf import settings

_READ_STEP = 64 * 1024


def _read_at_most(stream: IO[bytes], limit: int | None) -> bytes:
    """Read ``stream`` to its end, or until ``limit`` bytes, whichever comes first."""
    parts = []
    remaining = limit
    while remaining is None or remaining > 0:
        part = stream.read(_READ_STEP if remaining is None else min(_READ_STEP, remaining))
        if not part:
            break
        parts.append(part)
        if remaining is not None:
            remaining -= len(part)
    return b"".join(parts)


class ChunkedBodyLength:
    """Give a chunked request body (``Transfer-Encoding``, no ``Content-Length``) a length Django can use.

    Django reads exactly ``CONTENT_LENGTH`` bytes of ``wsgi.input`` and takes a missing one for an empty body,
    so a chunked create was silently dropped (a 400 "sender required"). A server that decodes the chunks and
    ends the stream with the body says so with ``wsgi.input_terminated`` (Gunicorn does). From such a server
    at most the body limit plus one byte is read: one byte over is enough for ``BodySizeLimitMiddleware`` to
    answer 413 without reading the rest. Without that flag (``runserver``) the middleware answers 411.
    """

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Buffer a chunked body from a terminated input stream, then call the application."""
        if (
            "HTTP_TRANSFER_ENCODING" in environ
            and not environ.get("CONTENT_LENGTH")
            and environ.get("wsgi.input_terminated")
        ):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = _read_at_most(environ["wsgi.input"], None if limit is None else limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)

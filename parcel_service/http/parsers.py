"""Strict JSON body parsing with orjson: invalid UTF-8, malformed or over-deep JSON is a 400 ``parse_error``."""

from __future__ import annotations

from typing import IO, Any

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF JSON parser backed by orjson (which rejects invalid UTF-8 and nesting deeper than 1024)."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None) -> Any:
        """Parse the request body.

        Raises:
            ParseError: The body is not valid UTF-8 JSON.
        """
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as error:
            raise ParseError("Request body is not valid JSON.") from error

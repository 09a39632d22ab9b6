"""The API's JSON parser: orjson through jsoncodec, and a bound on nesting and on strings that no
database or encoder downstream could take."""

import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from . import jsoncodec

# Far deeper than any request of this API needs, and below what the JSON writers downstream take
# (orjson writes at most 254 levels; the standard library recurses once per level).
MAX_DEPTH = 64

# What orjson writes of integers (signed below zero, unsigned above): a request's larger integers
# could be stored, but no answer could show them again.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1

# The escape of a UTF-16 surrogate. orjson refuses lone ones, but the standard library (which
# jsoncodec reads documents with integers beyond 64 bits with) accepts them, and neither UTF-8 nor
# PostgreSQL can hold one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (a subclass, so DRF still reads the body through HttpRequest.body and its
    DATA_UPLOAD_MAX_MEMORY_SIZE limit), parsing with jsoncodec: faster, strict about NaN and
    Infinity like DRF's, and refusing nesting beyond MAX_DEPTH and lone surrogates with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            if encoding.lower().replace("-", "").replace("_", "") != "utf8":
                body = body.decode(encoding).encode()
            value = jsoncodec.loads(body)
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if _too_deep(value):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels of objects and arrays.")
        if jsoncodec.may_hold_big_integers(body) and _has_big_integer(value):
            raise ParseError(f"JSON parse error - an integer lies outside {INT_MIN} to {INT_MAX}, the range the "
                             "API stores and answers with; send it as a string or a float.")
        if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
            raise ParseError("JSON parse error - a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), "
                             "which is not a character; send text as valid Unicode.")
        return value


def _too_deep(value) -> bool:
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _has_big_integer(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, int) and not INT_MIN <= node <= INT_MAX:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _has_lone_surrogate(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False

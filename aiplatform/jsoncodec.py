"""Compact JSON, fast: orjson, and the standard library for what orjson refuses or would change
(integers beyond 64 bits, which it rejects on writing and turns into floats on reading, and a
leading byte-order mark)."""

import json
import re

import orjson

# A run of 19 digits may be an integer beyond 64 bits; such lines are read exactly, more slowly.
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def dumps(value) -> bytes:
    """`value` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def loads(text: bytes | str):
    """The value of a JSON document; raises ValueError naming what is wrong with it. NaN and
    Infinity are refused, since PostgreSQL cannot store them."""
    if isinstance(text, bytes):
        text = text.removeprefix(b"\xef\xbb\xbf")
        exact = _LONG_DIGITS_BYTES.search(text)
    else:
        text = text.removeprefix("\ufeff")
        exact = _LONG_DIGITS.search(text)
    try:
        if exact:
            return json.loads(text, parse_constant=_refuse_constant)
        return orjson.loads(text)
    except json.JSONDecodeError as exc:  # orjson's error is one too
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


def _refuse_constant(name: str):
    raise ValueError(f"not valid JSON ({name} is not a number JSON allows)")

"""Compact JSON, fast: orjson, and the standard library for what orjson refuses or would change
(integers beyond 64 bits, which it rejects on writing and turns into floats on reading, and a
leading byte-order mark)."""

import json

import orjson

# A run of 19 digits may be an integer beyond 64 bits; such documents are read exactly, more
# slowly. Found by turning every digit into 0 and looking for 19 zeros (a regular expression
# took three times as long as parsing the line).
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_RUN = b"0" * 19


def dumps(value) -> bytes:
    """`value` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def fragment(value) -> orjson.Fragment:
    """`value` written once, to be embedded as it is wherever a larger value that holds it is
    written by `dumps`. Only orjson embeds fragments: what holds one must have no integer beyond
    64 bits of its own (the standard library, which `dumps` falls back on for those, cannot)."""
    return orjson.Fragment(dumps(value))


def loads(text: bytes | str):
    """The value of a JSON document; raises ValueError naming what is wrong with it. NaN and
    Infinity are refused, since PostgreSQL cannot store them."""
    try:
        if isinstance(text, str):
            text = text.encode()
        text = text.removeprefix(b"\xef\xbb\xbf")
        if may_hold_big_integers(text):
            return json.loads(text, parse_constant=_refuse_constant)
        return orjson.loads(text)
    except json.JSONDecodeError as exc:  # orjson's error is one too
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except (UnicodeError, RecursionError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


def may_hold_big_integers(text: bytes) -> bool:
    """Whether the document has a run of 19 digits or more (an integer beyond 64 bits may be one)."""
    return _LONG_RUN in text.translate(_DIGITS_TO_ZERO)


def _refuse_constant(name: str):
    raise ValueError(f"not valid JSON ({name} is not a number JSON allows)")

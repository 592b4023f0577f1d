"""Units in scenario files: sizes (``3 pages``, ``16 KiB``, ``240 MiB``), times
(``10 ms``), addresses (``0xf0800000``), and the pydantic types that accept them.

Inside vmsim every quantity is an int in bytes or nanoseconds, and names carry
the unit (``size_bytes``, ``sleep_ns``).  In YAML a value may be written with a
unit; the pydantic types below turn it into bytes / ns while validating.  The
page size used for ``N pages`` and for the page-multiple check comes from the
validation context (``model_validate(data, context={"page_size": 4096})``),
default 4096.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

DEFAULT_PAGE_SIZE = 4096

_SIZE_UNITS = {
    "b": 1, "byte": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}
_TIME_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
}
_NUM_UNIT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([A-Za-zµ]*)\s*$")

SIZE_FORMS = "an integer number of bytes, or '<n> pages', '<n> KiB', '<n> MiB', '<n> GiB'"
TIME_FORMS = "a time with its unit: '<n> ns', '<n> us', '<n> ms' or '<n> s' (a bare number only for 0)"
#: longest accepted number (digits) in a size, time or address: 2^64 has 20
MAX_DIGITS = 40


def _check_digits(text: str, value: Any) -> None:
    if len(text) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} characters is not accepted; accepted: at most "
                         f"{MAX_DIGITS} digits (got {str(value)[:20]}...)")


def _page_size(info: ValidationInfo | None) -> int:
    ctx = info.context if info is not None else None
    if isinstance(ctx, dict) and isinstance(ctx.get("page_size"), int):
        return ctx["page_size"]
    return DEFAULT_PAGE_SIZE


def parse_size(value: Any, page_size: int = DEFAULT_PAGE_SIZE) -> int:
    """Bytes from an int or a string such as '3 pages', '16 KiB', '0x1000'."""
    if isinstance(value, bool):
        raise ValueError(f"expected {SIZE_FORMS} (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        _check_digits(text.split()[0] if text.split() else text, value)
        if re.fullmatch(r"0[xX][0-9a-fA-F_]+", text):
            return int(text, 16)
        m = _NUM_UNIT.match(text)
        if m:
            number, unit = m.group(1).replace("_", ""), m.group(2).lower()
            if unit in ("page", "pages"):
                mult = page_size
            elif unit == "":
                mult = 1
            else:
                mult = _SIZE_UNITS.get(unit, 0)
            if mult:
                amount = float(number) * mult if "." in number else int(number) * mult
                if amount == int(amount):
                    return int(amount)
                raise ValueError(f"{value!r} is not a whole number of bytes")
    raise ValueError(f"expected {SIZE_FORMS} (got {value!r})")


def parse_duration(value: Any) -> int:
    """Nanoseconds from a string with a unit, such as '10 ms', '2.5 us', '60 s'.

    A bare number (``60``, ``'60'``) is refused unless it is 0: it used to mean
    nanoseconds, which silently turned ``stop: {time: 60}`` into 60 ns."""
    if isinstance(value, bool):
        raise ValueError(f"expected {TIME_FORMS} (got {value!r})")
    if isinstance(value, (int, float)):
        if value == 0:
            return 0
        raise ValueError(f"a time needs a unit (got {value!r}): write e.g. '{value} s', "
                         f"'{value} ms', '{value} us' or '{value} ns'")
    if isinstance(value, str):
        m = _NUM_UNIT.match(value)
        if m:
            _check_digits(m.group(1), value)
            number, unit = m.group(1).replace("_", ""), m.group(2).lower()
            if not unit:
                if float(number) == 0:
                    return 0
                raise ValueError(f"a time needs a unit (got {value!r}): write e.g. '{number} s', "
                                 f"'{number} ms', '{number} us' or '{number} ns'")
            mult = _TIME_UNITS.get(unit)
            if mult:
                amount = float(number) * mult if "." in number else int(number) * mult
                if amount == int(amount):
                    return int(amount)
                raise ValueError(f"{value!r} is not a whole number of ns")
    raise ValueError(f"expected {TIME_FORMS} (got {value!r})")


def parse_address(value: Any) -> int:
    """An address: an int or a hex string '0xf0800000'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        _check_digits(text, value)
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            pass
    raise ValueError(f"expected an address: an integer or a hex string such as 0xf0800000 (got {value!r})")


#: sizes are kernel ``unsigned long`` values kept in int64 columns: below 2^63
MAX_BYTES = (1 << 63) - 1


def _bytes(value: Any, info: ValidationInfo) -> int:
    n = parse_size(value, _page_size(info))
    if n < 0:
        raise ValueError(f"must be >= 0 bytes (got {n})")
    if n > MAX_BYTES:
        raise ValueError(f"must be below 2^63 bytes (got {n})")
    return n


def _page_bytes(value: Any, info: ValidationInfo) -> int:
    page = _page_size(info)
    n = parse_size(value, page)
    if n <= 0:
        raise ValueError(f"must be a positive size (got {n})")
    if n % page:
        raise ValueError(f"must be a multiple of the page size {page} (got {n})")
    if n > MAX_BYTES:
        raise ValueError(f"must be below 2^63 bytes (got {n})")
    return n


def _duration(value: Any, info: ValidationInfo) -> int:
    n = parse_duration(value)
    if n < 0:
        raise ValueError(f"must be >= 0 ns (got {n})")
    return n


def _address(value: Any, info: ValidationInfo) -> int:
    a = parse_address(value)
    if not 0 <= a <= 1 << 64:
        raise ValueError(f"must lie in 0..2^64 (got {a:#x})")
    return a


def format_duration(ns: int | None) -> str | int | None:
    """ns as a string with the unit (``'1500 ns'``; 0 stays 0): how resolved
    scenarios write times, so that they read back (a bare number needs a unit)."""
    if ns is None or ns == 0:
        return ns
    return f"{int(ns)} ns"


# JSON Schema of the types (``vmsim schema``): an integer, or a string with a unit.
_SIZE_SCHEMA = WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                               "description": SIZE_FORMS})
_TIME_SCHEMA = WithJsonSchema({"anyOf": [{"type": "integer", "const": 0}, {"type": "string"}],
                               "description": TIME_FORMS})
_ADDR_SCHEMA = WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0},
                                         {"type": "string", "pattern": "^(0[xX][0-9a-fA-F_]+|[0-9_]+)$"}],
                               "description": "an address: integer or hex string such as 0xf0800000"})

#: bytes >= 0, written as an int or with a unit
Bytes = Annotated[int, BeforeValidator(_bytes), _SIZE_SCHEMA]
#: a positive multiple of the page size (vmalloc sizes, alignments of areas)
PageBytes = Annotated[int, BeforeValidator(_page_bytes), _SIZE_SCHEMA]
#: nanoseconds >= 0, written as an int or with a unit
DurationNs = Annotated[int, BeforeValidator(_duration), _TIME_SCHEMA,
                      PlainSerializer(lambda v: format_duration(v), when_used="json")]
#: an address, int or hex string
Address = Annotated[int, BeforeValidator(_address), _ADDR_SCHEMA]

__all__ = ["format_duration", "parse_size", "parse_duration", "parse_address", "Bytes", "PageBytes",
           "DurationNs", "Address", "SIZE_FORMS", "TIME_FORMS", "DEFAULT_PAGE_SIZE"]

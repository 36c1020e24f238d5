"""Durations as gilbench writes and reads them: "5ms", "100us", "250ns", "0.005s".

The rules of bench/options.cpp (parse_duration, format_duration): a number
then one of the units ns, us, ms, s; the number is what C's strtod reads
(decimal or hexadecimal, an optional sign and exponent), finite; the value
is rounded to whole nanoseconds and, for a flag, must lie in a range
(default [1us, 10s], the switch interval's). format() writes the largest
unit that divides the value exactly. Standard library only.
"""

import math
import re

UNITS = (("ns", 1), ("us", 10 ** 3), ("ms", 10 ** 6), ("s", 10 ** 9))
NS_PER_S = 10 ** 9
# What strtod reads in full (leading white space, sign, decimal or hex, inf, nan).
STRTOD = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
                    r"|(?i:inf(?:inity)?|nan))")


class DurationError(ValueError):
    """A duration flag that does not parse or is out of range; the message is gilbench's."""


def _split(text):
    """(number text, nanoseconds per unit), or None when no unit ends the text."""
    for unit, scale in UNITS:
        if len(text) > len(unit) and text.endswith(unit):
            number = text[:-len(unit)]
            if unit == "s" and number[-1] in "num":
                continue
            return number, scale
    return None


def _number(text):
    """The finite float strtod would read from the whole text, else None."""
    m = STRTOD.fullmatch(text)
    if not m:
        return None
    try:
        value = float.fromhex(text.strip()) if m.group(1) else float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def parse_ns(text, flag="duration", lo_ns=1000, hi_ns=10 * NS_PER_S):
    """'5ms' -> 5000000 (nanoseconds), within [lo_ns, hi_ns]; raises DurationError."""
    split = _split(text)
    if split is None:
        raise DurationError("%s: '%s' needs a unit: ns, us, ms or s (e.g. 5ms)" % (flag, text))
    value = _number(split[0])
    if value is None:
        raise DurationError("%s: '%s' is not a duration (e.g. 5ms, 100us)" % (flag, text))
    ns = value * split[1]
    if not lo_ns <= ns <= hi_ns:
        raise DurationError("%s: %s is out of range [%s, %s]" % (flag, text, format_ns(lo_ns),
                                                                 format_ns(hi_ns)))
    return int(round(ns))


def seconds(text):
    """'5ms' -> 0.005, with no range; None when text is no duration."""
    split = _split(text) if isinstance(text, str) else None
    value = _number(split[0]) if split else None
    return None if value is None else value * split[1] / NS_PER_S


def nanoseconds(text):
    """'5ms' -> 5000000 (rounded to whole nanoseconds), with no range; None when text is
    no duration."""
    split = _split(text) if isinstance(text, str) else None
    value = _number(split[0]) if split else None
    if value is None or not math.isfinite(value * split[1]):
        return None
    return int(round(value * split[1]))


def format_ns(ns):
    """5000000 -> '5ms': the largest unit that divides the value."""
    for unit, scale in reversed(UNITS):
        if ns % scale == 0:
            return "%d%s" % (ns // scale, unit)
    return "%dns" % ns


def format_seconds(value):
    """0.005 -> '5ms' (rounded to whole nanoseconds)."""
    return format_ns(int(round(value * NS_PER_S)))

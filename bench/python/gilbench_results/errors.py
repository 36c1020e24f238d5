"""Bad input and how a message shows it: one line, never a traceback."""

import argparse
import re


class InputError(Exception):
    """Bad input, usage or environment: the caller prints it as one line (plot.py: exit 2)."""


class UsageError(InputError):
    """A bad command line (ArgumentParser's errors)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing its usage and exiting, so that
    a bad command line is one line (and the caller's exit status)."""

    def error(self, message):
        raise UsageError(message)


# Control characters and Unicode line separators: escaped where text must stay one line.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text):
    """text with its control characters escaped (\\n, \\x85...), so that it stays one line."""
    return LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], str(text))


def shown(value, limit=60):
    """A value as a message shows it: repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def bad_option(option, value, what):
    """The error of an option value out of range: `--name: value: must be what`."""
    return InputError(f"--{option.replace('_', '-')}: {shown(value)}: must be {what}")

"""Corpus data shown on a terminal as data: never read as rich markup, emoji codes or hyperlinks, and every
control character (ESC sequences included) escaped, so a document cannot restyle or drive the terminal."""

from __future__ import annotations

from typing import Any


def inert(value: Any) -> str:
    """``value`` as text with each non-printable character written as its escape (``\\x1b``, ``\\n``)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def console() -> Any:
    """A rich console that prints strings as they are: no markup, emoji or highlighting."""
    from rich.console import Console

    return Console(markup=False, emoji=False, highlight=False)


def cell(value: Any) -> Any:
    """A table cell holding ``value`` as plain text (rich parses markup in plain str cells)."""
    from rich.text import Text

    return Text(inert(value))

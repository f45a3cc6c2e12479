"""The one base class of the failures vecpress expects and explains: the CLI prints them on one line (exit
2) and the flow never retries them, since running the same thing again cannot fix them."""

from __future__ import annotations


class VecpressError(Exception):
    """A failure whose message says what is wrong and where (file, row, option), and what to do."""


class StorageError(VecpressError, OSError):
    """A URL vecpress cannot use: no driver for its scheme, no permission, or a place that does not last."""

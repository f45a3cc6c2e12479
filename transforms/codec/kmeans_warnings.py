"""faiss's k-means warns on stderr, once per codebook it trains, when given fewer than 39 points per
centroid. Where that is meant (the planner measuring a codec on part of what the run will train it on), an
OPQ codec alone would print thousands of such lines. This gathers them into one log line; everything else
written to stderr meanwhile is written back after."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

MIN_POINTS_PER_CENTROID = 39  # faiss's k-means warns below this many training points per centroid

logger = logging.getLogger(__name__)

PREFIX = b"WARNING clustering "


@contextlib.contextmanager
def gathered(what: str) -> Iterator[None]:
    """Run the block with file descriptor 2 captured; then log how many k-means warnings ``what`` raised
    and write every other captured line back to stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().splitlines(keepends=True)
            other = [line for line in lines if not line.startswith(PREFIX)]
            if other:
                sys.stderr.write(b"".join(other).decode(errors="replace"))
                sys.stderr.flush()
            warned = len(lines) - len(other)
            if warned:
                logger.info(
                    "%s: %d k-means runs had fewer than %d points per centroid",
                    what,
                    warned,
                    MIN_POINTS_PER_CENTROID,
                )

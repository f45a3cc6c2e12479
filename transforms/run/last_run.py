"""The last published run of an output, as a re-index reuses it: its layout, manifest and embeddings."""

from __future__ import annotations

import logging
from typing import NamedTuple

from transforms.embed.embeddings import Embeddings
from transforms.run import publish
from transforms.run.manifest import Manifest
from transforms.storage import io
from transforms.storage.errors import VecpressError
from transforms.storage.layout import CHUNK_LIST, RunLayout

logger = logging.getLogger(__name__)


class LastRun(NamedTuple):
    """The last published run of an output, as a re-index reuses it: its layout, manifest and embeddings."""

    layout: RunLayout
    manifest: Manifest
    embeddings: Embeddings


def last_run(output: str) -> LastRun | None:
    """The current published run of ``output`` with its embeddings, or None (no run, or one written before
    embeddings were kept as chunks)."""
    try:
        layout, manifest = publish.current(output)
    except VecpressError:
        return None
    if not io.exists(layout.dir(CHUNK_LIST)):
        return None
    files = manifest.chunk_files()
    gone = [path for path in files if not io.exists(io.locate(output, path))]
    if gone:  # removed by hand (or a damaged store): nothing to reuse from it, but nothing to fail on
        logger.warning(
            "%d of the %d embed chunk and vector files of the current run %s are gone (first: %s): its "
            "documents are embedded again", len(gone), len(files), layout.run_id, gone[0],
        )  # fmt: skip
        return None
    return LastRun(layout, manifest, Embeddings.load(layout))

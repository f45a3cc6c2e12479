"""A file in an object store that is read by position (an id map, a stored tier's fine codes), copied to a
temporary file on the local disk and checked there against its record, so that it can be memory-mapped:
held as page cache the kernel can drop, not as process memory that grows with the corpus. The copy goes to
the system temporary folder (``TMPDIR``) and is removed with the LocalCopy."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

from transforms.storage import integrity, io


class LocalCopy:
    """The local copy of ``url`` at ``path``; an error about its contents names ``url``, not the copy."""

    def __init__(self, url: str, expect: Mapping[str, Any] | None = None):
        fs, remote = io.filesystem(url)
        self._folder = tempfile.TemporaryDirectory(prefix="vecpress-")
        self.path = os.path.join(self._folder.name, os.path.basename(remote.rstrip("/")) or "file")
        try:
            fs.get(remote, self.path)
        except FileNotFoundError as err:
            if expect is None:
                raise
            raise integrity.IntegrityError(f"{url}: missing, although it was written and recorded") from err
        integrity.verify_file(self.path, expect, name=url)

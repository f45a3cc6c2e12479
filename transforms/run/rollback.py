"""Go back to an earlier published run: verify it in full, then point ``CURRENT`` at it in one atomic write
(a running `vecpress serve` follows, as it follows a publish)."""

from __future__ import annotations

import logging

from transforms.run import publish, verify
from transforms.run.manifest import Manifest

logger = logging.getLogger(__name__)


class RollbackError(publish.PublishError):
    """No run to go back to, or one that fails its check."""


def target(output: str, run_id: str | None) -> str:
    """``run_id``, or when None the run published last before the current one."""
    current, _ = publish.current(output)
    if run_id is not None:
        if run_id == current.run_id:
            raise RollbackError(f"run {run_id} is already the current run of {output}")
        return run_id
    runs = [r for _, r in publish.published_runs(output)]
    earlier = runs[: runs.index(current.run_id)] if current.run_id in runs else runs
    if not earlier:
        raise RollbackError(f"{output}: no run published before the current one ({current.run_id}) is kept")
    return earlier[-1]


def rollback(output: str, run_id: str | None = None) -> Manifest:
    """Make ``run_id`` (default: the run published before the current one) current again, once every file
    it lists matches its manifest. Call it holding the output's lock, so no run publishes meanwhile."""
    chosen = target(output, run_id)
    try:
        checked = verify.verify(output, chosen)
    except publish.PublishError as err:
        raise RollbackError(f"cannot roll {output} back to run {chosen}: {err}") from err
    if not checked.ok:
        raise RollbackError(
            f"cannot roll {output} back to run {chosen}: {len(checked.problems)} of {checked.checked} files "
            f"differ from its manifest (first: {checked.problems[0]})"
        )
    publish.point_at(checked.layout)
    logger.info("rolled %s back to run %s (published %s)", output, chosen, checked.manifest.published_at)
    return checked.manifest

"""The Prefect tasks' own logic: which failures are retried, and the evaluate task as a run measures."""

import errno
import shutil

import pytest
from prefect.states import Completed, Failed

from flows import tasks
from flows.config import ReindexConfig
from transforms.codec.codec import CodecError
from transforms.run import publish
from transforms.storage import integrity


def _caused_by(err: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise err from inner
    except BaseException as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (OSError(errno.ECONNRESET, "connection reset by peer"), True),  # the network: try again
        (TimeoutError("read timed out"), True),
        (OSError(errno.ENOSPC, "no space left on device"), False),  # waits for a person
        (PermissionError(errno.EACCES, "permission denied"), False),
        (CodecError("PQ64 needs 9984 training points, got 100"), False),  # the same again cannot succeed
        (integrity.IntegrityError("x: content differs"), False),
        (_caused_by(RuntimeError("pipeline failed"), KeyboardInterrupt()), False),  # a stop, not a failure
        (_caused_by(OSError(errno.EPIPE, "broken pipe"), SystemExit(143)), False),
    ],
)
def test_only_transient_failures_are_retried(error, retried):
    assert tasks._transient(None, None, Failed(data=error)) is retried


def test_a_completed_state_is_not_a_failure():
    assert tasks._transient(None, None, Completed(data=1)) is True


def test_evaluate_measures_a_published_run_again_the_same_way(published, tmp_path):
    output = tmp_path / "index"
    shutil.copytree(published, output)  # evaluate writes the queries' exact neighbours into the run
    layout, manifest = publish.current(str(output))
    config = ReindexConfig.model_validate(manifest.parameters)
    result = tasks.evaluate.fn(
        config, layout, manifest.counts.embedded, manifest.codec, manifest.records(), None, key="unused"
    )
    quality, per_query = result["figures"], result["per_query"]
    measured = manifest.evaluation
    for key in ("k", "queries", "recall_at_k", "knn_accuracy_float", "knn_accuracy_index"):
        assert quality[key] == measured[key], key
    assert quality["measured_in"] == layout.run_id
    assert len(per_query) == measured["queries"] and sum(per_query) / len(per_query) == pytest.approx(
        measured["recall_at_k"]
    )
    # what the run kept of them, written again the same
    assert result["files"]["evaluation/exact.arrow"] == manifest.records()["evaluation/exact.arrow"]


def test_evaluate_refuses_a_shard_without_a_record(published):
    layout, manifest = publish.current(str(published))
    config = ReindexConfig.model_validate(manifest.parameters)
    records = {k: v for k, v in manifest.records().items() if not k.startswith("index/")}
    with pytest.raises(integrity.IntegrityError, match="no size or sha256 recorded"):
        tasks.evaluate.fn(
            config, layout, manifest.counts.embedded, manifest.codec, records, None, key="unused"
        )

"""Create pipeline options for the configured runner and run a pipeline graph to completion."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineState

logger = logging.getLogger(__name__)


# Runners Beam ships but does not register under a short name.
ALIASES = {"DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner"}


def pipeline_options(runner: str, args: Sequence[str] = ()) -> PipelineOptions:
    """Options for ``runner``; ``args`` pass through untouched (``--flink_master=...``, ``--project=...``)."""
    return PipelineOptions([f"--runner={ALIASES.get(runner, runner)}", *args])


def resolve_runner(options: PipelineOptions):
    """DirectRunner means Beam's in-process FnApiRunner for these batch graphs.

    Beam's DirectRunner first tries to download the Prism runner binary from the internet and then falls back
    to the FnApiRunner; going straight there keeps runs offline and their logs honest. Any other runner name
    (PrismRunner, DaskRunner, FlinkRunner, DataflowRunner, ...) is left to Beam.
    """
    if options.view_as(StandardOptions).runner in (None, "DirectRunner"):
        from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

        return FnApiRunner()
    return None


def original_error(err: BaseException) -> BaseException:
    """The error a DoFn raised, behind Beam's re-raise.

    Beam re-raises a step's error with the step's name appended to its message; where it cannot rebuild the
    error's type that way (an OSError's first argument is its errno), it raises a RuntimeError instead, and
    the original (disk full, a vecpress error) is only in the exception chain.
    """
    while isinstance(err, RuntimeError) and getattr(err, "_tagged_with_step", False) and err.__context__:
        err = err.__context__
    return err


def run(build: Callable[[beam.Pipeline], None], options: PipelineOptions, name: str) -> None:
    """Build the graph with ``build`` and run it, failing loudly unless it finishes DONE; a step's error is
    raised as itself (see original_error)."""
    pipeline = beam.Pipeline(runner=resolve_runner(options), options=options)
    build(pipeline)
    result = None
    try:
        result = pipeline.run()  # in-process runners run the graph here, others in wait_until_finish
        state = result.wait_until_finish()
    except Exception as err:
        cause = original_error(err)
        if cause is err:
            raise
        raise cause from err
    finally:
        # Beam's DaskRunner opens a dask Client per pipeline and never closes it.
        client = getattr(result, "client", None)
        if client is not None:
            client.close()
    if state not in (PipelineState.DONE, None):
        raise RuntimeError(f"pipeline {name} ended in state {state}")
    logger.info("pipeline %s finished", name)

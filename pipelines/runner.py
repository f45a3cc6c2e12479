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


def run(build: Callable[[beam.Pipeline], None], options: PipelineOptions, name: str) -> None:
    """Build the graph with ``build`` and run it, failing loudly unless it finishes DONE."""
    pipeline = beam.Pipeline(runner=resolve_runner(options), options=options)
    build(pipeline)
    result = pipeline.run()
    try:
        state = result.wait_until_finish()
    finally:
        # Beam's DaskRunner opens a dask Client per pipeline and never closes it.
        client = getattr(result, "client", None)
        if client is not None:
            client.close()
    if state not in (PipelineState.DONE, None):
        raise RuntimeError(f"pipeline {name} ended in state {state}")
    logger.info("pipeline %s finished", name)

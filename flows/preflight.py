"""What vecpress does before any work starts: the environment every process sets (the CLI's and `make
bench`'s), and for ``vecpress run`` and ``plan``: refuse an output that cannot last or be written, find the
Prefect server, and load the model while it starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext


def environment_defaults() -> None:
    """What every vecpress process sets unless the user did: models load offline, and the temporary
    Prefect server starts reliably."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The temporary Prefect server's telemetry write raced its first migration ("database is locked").
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A fresh PREFECT_HOME migrates its database on first start: well over Prefect's 20 s default on 2 cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def refuse_ephemeral(flag: str, url: str) -> None:
    from transforms.storage import io
    from transforms.storage.errors import StorageError

    if io.is_ephemeral(url):
        raise StorageError(
            f"{flag} {url}: a memory:// location lives only as long as this process, so nothing would be "
            "left once it exits; give a local path or an object-store URL (s3://, gs://)"
        )


def check_storage(input_url: str, output: str) -> None:
    """Both URLs have a driver, and a local output can be written to."""
    from transforms.storage import io

    io.filesystem(input_url)
    io.ensure_writable(output)


def check_run(config) -> None:
    """What a run would fail on later, said now, before the temporary Prefect server starts or the model
    loads: every input file's schema and columns (the footers alone), and a --run-id already published."""
    from transforms.read import reading
    from transforms.run import publish
    from transforms.storage.layout import RunLayout

    reading.check_inputs(config.input, config.columns(), [] if config.on_bad_file == "skip" else None)
    if config.run_id:
        publish.refuse_published(RunLayout(config.output, config.run_id))


@contextmanager
def prefect_api() -> Iterator[Callable[[], AbstractContextManager]]:
    """The Prefect server the flow reports to: PREFECT_API_URL when set, else a temporary one that dies with
    this process (flows.prefect_server), started now so that its seconds of start-up overlap what runs
    inside (the run's checks, the model loading). Yields ``connect``: a context that waits for the server
    and points Prefect at it, for the flow to run in."""
    if os.environ.get("PREFECT_API_URL"):
        yield nullcontext
        return
    from flows.prefect_server import starting_server

    with starting_server(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])) as server:
        yield server.connect


def load_stage_modules() -> None:
    """Import what the stages import when they first run (Beam and the pipelines, matplotlib for the
    report): done while the temporary Prefect server starts, seconds this process would otherwise wait."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    from pipelines import build, embed, encode, runner  # noqa: F401


def warm_model(config) -> None:
    """Load the model in a thread while the flow starts (seconds on 2 cores, mostly waiting on the Prefect
    server): the flow's first stage then finds it loaded. A failure here is left for that stage to report."""
    import threading

    from transforms.embedders.embedder import load_embedder

    def load() -> None:
        try:
            load_embedder(config.embedder())
        except Exception:  # noqa: BLE001 - the flow's check_model_and_codec loads it again and reports
            pass

    threading.Thread(target=load, name="warm-model", daemon=True).start()

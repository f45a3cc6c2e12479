"""What Prefect and Beam log around an expected vecpress error: without --verbose, nothing but the message.

Prefect logs every failed task and flow run with its traceback, and Beam logs the failing step's, (about 70
lines for one bad input file) before the CLI gets to print the error. For a VecpressError those tracebacks
say nothing the one-line error does not, so those records are dropped, as are those of storage trouble
(an OSError: disk full, no access), which the CLI also prints on one line; any other exception keeps them.
"""

from __future__ import annotations

import logging

from transforms.storage.errors import VecpressError

PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.engine")


class DropExpectedTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        # the CLI prints these on one line: expected errors, and storage trouble (disk full, no access)
        return not isinstance(exc, VecpressError | OSError)


def quiet_expected_errors() -> None:
    """Attach the filter to every handler Prefect's logging configuration installs (importing Prefect
    applies it) and to the root logger's, which Beam's records reach."""
    import prefect.main  # noqa: F401 - applies Prefect's logging configuration, replacing earlier handlers

    drop = DropExpectedTracebacks()
    for name in ("", *PREFECT_LOGGERS):
        logger = logging.getLogger(name)
        logger.addFilter(drop)
        for handler in logger.handlers:
            handler.addFilter(drop)

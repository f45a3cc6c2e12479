"""What Prefect logs around an expected vecpress error: without --verbose, the message, not the traceback.

Prefect logs every failed task and flow run with its traceback (about 70 lines for one bad input file) before
the CLI gets to print the error. For a VecpressError that traceback says nothing the one-line error does not,
so it is dropped; any other exception keeps its traceback.
"""

from __future__ import annotations

import logging

from transforms.errors import VecpressError

PREFECT_LOGGERS = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.engine")


class DropExpectedTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, VecpressError):
            return False  # the CLI prints it on one line
        return True


def quiet_expected_errors() -> None:
    """Attach the filter to Prefect's loggers and to the handlers they log through."""
    drop = DropExpectedTracebacks()
    for name in PREFECT_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(drop)
        for handler in logger.handlers:
            handler.addFilter(drop)

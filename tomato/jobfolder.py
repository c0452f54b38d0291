"""The files of a job folder that more than one process touches: the job record
(`jobdata.json`, written by the service when the job starts, archived with the outputs) and
the job log (`jobdata.log`: written by the job process while it runs, by the service after)."""

from __future__ import annotations

import logging
from pathlib import Path

JOB_RECORD = "jobdata.json"
JOB_LOG = "jobdata.log"
JOB_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def log_to_job(jobdir: Path, level: int, message: str) -> None:
    """Append a line to the job's log, as the job process writes them."""
    record = logging.makeLogRecord({"msg": message, "levelno": level,
                                    "levelname": logging.getLevelName(level)})
    with (jobdir / JOB_LOG).open("a", encoding="utf-8") as log:
        log.write(logging.Formatter(JOB_LOG_FORMAT).format(record) + "\n")

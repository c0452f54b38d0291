"""Errors of tomato, each with the exit code `ketchup` and `tomato` leave with."""

from __future__ import annotations

from tomato.actors import ActorError
from tomato.drivers.errors import ChannelBusyError, ParameterError


class TomatoError(ActorError):
    """Base of tomato's own errors."""

    code = "tomato"
    exit_code = 1


class PayloadError(TomatoError):
    """Raised when a payload file cannot be read or is not valid; details name file and field."""

    code = "bad_payload"
    exit_code = 3


class NotFoundError(TomatoError):
    """Raised when a command names a job or pipeline that does not exist."""

    code = "not_found"
    exit_code = 4


class ConflictError(TomatoError):
    """Raised when a command would break a guard (e.g. load into an occupied pipeline)."""

    code = "conflict"
    exit_code = 5


class ConfigError(TomatoError):
    """Raised when settings.toml or the devices file is malformed; says file and line."""

    code = "bad_config"
    exit_code = 6


class NotRunningError(TomatoError):
    """Raised when no tomato service answers on the socket of this configuration."""

    code = "not_running"
    exit_code = 7


class StateFullError(TomatoError):
    """Raised when the state database cannot be written (its disk is full): nothing changed."""

    code = "state_full"
    exit_code = 1


class AlreadyRunningError(TomatoError):
    """Raised when a tomato service already runs for this configuration."""

    code = "already_running"
    exit_code = 8


class DeviceFailedError(TomatoError):
    """Raised when a command needs a device that has failed (it did not start, or its
    restart budget is spent); says the driver's reason."""

    code = "device_failed"
    exit_code = 12


class StateDamagedError(TomatoError):
    """Raised when the state database is damaged, or behind the job folders (lost or
    replaced): tomato does not start, so no jobid is given twice; says what to do."""

    code = "state_damaged"
    exit_code = 13


class OutputError(TomatoError):
    """Raised when the datagram or archive of a job could not be written; says why."""

    code = "output"
    exit_code = 9


ERRORS: tuple[type[ActorError], ...] = (
    TomatoError, PayloadError, NotFoundError, ConflictError, ConfigError, NotRunningError,
    AlreadyRunningError, OutputError, StateFullError, DeviceFailedError, StateDamagedError,
)


def exit_code_of(exc: BaseException) -> int:
    """The one table from exceptions to exit codes (2 stays click's usage error)."""
    if isinstance(exc, TomatoError):
        return exc.exit_code
    if isinstance(exc, ParameterError):  # a value the driver refuses: bad input
        return PayloadError.exit_code
    if isinstance(exc, ChannelBusyError):  # refused while a task runs
        return ConflictError.exit_code
    return 1

"""Errors raised by drivers and device actors."""

from __future__ import annotations

from tomato.actors import ActorError


class DriverError(ActorError):
    """Raised when a driver cannot do what it was asked (its message says why)."""

    code = "driver"


class UnknownDriverError(DriverError):
    """Raised when no installed driver has the requested name."""

    code = "unknown_driver"


class ParameterError(DriverError):
    """Raised when a task's parameter is missing, of the wrong type or out of range.

    `details["field"]` names the parameter.
    """

    code = "bad_parameter"


class SettingsError(DriverError):
    """Raised when a driver refuses its settings (`[drivers.<name>]`): the message starts
    with SETTINGS_REFUSED, so a supervisor that reads it as text knows it for what it is."""

    code = "bad_settings"

    def __init__(self, driver: str, why: str) -> None:
        super().__init__(f"{SETTINGS_REFUSED}{driver}]: {why}")


SETTINGS_REFUSED = "settings [drivers."


class ChannelBusyError(DriverError):
    """Raised when a task is started on a channel that is already running one."""

    code = "channel_busy"


class UnknownChannelError(DriverError):
    """Raised when a message names a channel the device does not have."""

    code = "unknown_channel"


ERRORS: tuple[type[ActorError], ...] = (
    DriverError, UnknownDriverError, ParameterError, ChannelBusyError, UnknownChannelError,
    SettingsError,
)

"""Drivers and the device actor that runs them. Knows nothing of queues or scheduling.

Errors load at once; the rest (messages too) on first use, so a client that only talks
to tomato starts without building the drivers' message types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    SETTINGS_REFUSED,
    ChannelBusyError,
    DriverError,
    ParameterError,
    SettingsError,
    UnknownChannelError,
    UnknownDriverError,
)

if TYPE_CHECKING:  # what the type checker sees; at run time they load on first use
    from ._device import DEVICE_CODEC, DeviceActor
    from ._dummy import DummyDriver
    from ._interface import (
        Driver,
        Emit,
        check_task,
        coerce_param,
        point_count,
        record_scalars,
    )
    from ._registry import DriverHost, driver_fingerprint, driver_names, load_driver
    from .messages import (
        COMPONENT_REQUESTS,
        Acknowledge,
        AttrInfo,
        AttrValues,
        ChannelsReady,
        ChannelStatus,
        Column,
        ComponentInfo,
        DataBatch,
        DataBatches,
        DataReady,
        Describe,
        DeviceConfig,
        DeviceInfo,
        DeviceStatus,
        GetAttrs,
        GetComponent,
        GetDeviceStatus,
        GetLastData,
        IdleData,
        LastData,
        Measure,
        Param,
        ReadData,
        ReadMany,
        RegisterComponent,
        ResetComponent,
        SetAttr,
        StartTask,
        StopTask,
        Task,
        Technique,
    )

_LAZY = {
    "COMPONENT_REQUESTS": ".messages",
    "AttrInfo": ".messages",
    "AttrValues": ".messages",
    "ComponentInfo": ".messages",
    "GetAttrs": ".messages",
    "GetComponent": ".messages",
    "GetLastData": ".messages",
    "LastData": ".messages",
    "Measure": ".messages",
    "RegisterComponent": ".messages",
    "ResetComponent": ".messages",
    "SetAttr": ".messages",
    "ChannelStatus": ".messages",
    "Column": ".messages",
    "ChannelsReady": ".messages",
    "Acknowledge": ".messages",
    "DataBatch": ".messages",
    "DataBatches": ".messages",
    "DataReady": ".messages",
    "Describe": ".messages",
    "DeviceConfig": ".messages",
    "DeviceInfo": ".messages",
    "DeviceStatus": ".messages",
    "GetDeviceStatus": ".messages",
    "Param": ".messages",
    "ReadData": ".messages",
    "ReadMany": ".messages",
    "StartTask": ".messages",
    "StopTask": ".messages",
    "Task": ".messages",
    "Technique": ".messages",
    "DEVICE_CODEC": "._device",
    "DeviceActor": "._device",
    "DummyDriver": "._dummy",
    "Driver": "._interface",
    "Emit": "._interface",
    "check_task": "._interface",
    "coerce_param": "._interface",
    "DriverHost": "._registry",
    "point_count": "._interface",
    "record_scalars": "._interface",
    "IdleData": ".messages",
    "driver_fingerprint": "._registry",
    "driver_names": "._registry",
    "load_driver": "._registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPONENT_REQUESTS",
    "DEVICE_CODEC",
    "SETTINGS_REFUSED",
    "Acknowledge",
    "AttrInfo",
    "AttrValues",
    "ChannelBusyError",
    "ChannelStatus",
    "ChannelsReady",
    "Column",
    "ComponentInfo",
    "DataBatch",
    "DataBatches",
    "DataReady",
    "Describe",
    "DeviceActor",
    "DeviceConfig",
    "DeviceInfo",
    "DeviceStatus",
    "Driver",
    "DriverError",
    "DriverHost",
    "DummyDriver",
    "Emit",
    "GetAttrs",
    "GetComponent",
    "GetDeviceStatus",
    "GetLastData",
    "IdleData",
    "LastData",
    "Measure",
    "Param",
    "ParameterError",
    "ReadData",
    "ReadMany",
    "RegisterComponent",
    "ResetComponent",
    "SetAttr",
    "SettingsError",
    "StartTask",
    "StopTask",
    "Task",
    "Technique",
    "UnknownChannelError",
    "UnknownDriverError",
    "check_task",
    "coerce_param",
    "driver_fingerprint",
    "driver_names",
    "load_driver",
    "point_count",
    "record_scalars",
]

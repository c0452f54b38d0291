"""Drivers and the device actor that runs them. Knows nothing of queues or scheduling."""

from ._device import DEVICE_CODEC, DeviceActor
from ._dummy import DummyDriver
from ._interface import Driver, Emit, check_task, point_count
from ._registry import driver_names, load_driver
from .errors import (
    ChannelBusyError,
    DriverError,
    ParameterError,
    UnknownChannelError,
    UnknownDriverError,
)
from .messages import (
    ChannelStatus,
    Column,
    DataBatch,
    DataReady,
    Describe,
    DeviceInfo,
    DeviceStatus,
    GetDeviceStatus,
    Param,
    ReadData,
    StartTask,
    StopTask,
    Task,
    Technique,
)

__all__ = [
    "DEVICE_CODEC",
    "ChannelBusyError",
    "ChannelStatus",
    "Column",
    "DataBatch",
    "DataReady",
    "Describe",
    "DeviceActor",
    "DeviceInfo",
    "DeviceStatus",
    "Driver",
    "DriverError",
    "DummyDriver",
    "Emit",
    "GetDeviceStatus",
    "Param",
    "ParameterError",
    "ReadData",
    "StartTask",
    "StopTask",
    "Task",
    "Technique",
    "UnknownChannelError",
    "UnknownDriverError",
    "check_task",
    "driver_names",
    "load_driver",
    "point_count",
]

"""A DriverInterface 3.0 driver whose import fails: a library it needs is not installed."""

import vendor_sdk_that_is_not_installed  # noqa: F401

from tomato.driverinterface_3_0 import ModelInterface


class DriverInterface(ModelInterface):
    pass

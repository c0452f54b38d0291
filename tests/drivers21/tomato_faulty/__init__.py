"""A DriverInterface 2.1 driver that misbehaves on purpose, as real ones do.

- registering fails (RuntimeError) until the file named by its `plugged` setting exists;
- reading the attr `explode` raises ZeroDivisionError (the driver dies);
- setting `level` to a negative number raises ValueError (that call fails);
- the technique `crash` raises in its worker thread on its third point.
"""

import os
from datetime import datetime

import xarray as xr

from tomato.driverinterface_2_1 import Attr, ModelDevice, ModelInterface
from tomato.driverinterface_2_1.decorators import coerce_val


class Device(ModelDevice):
    def __init__(self, driver, key, **kwargs):
        plugged = driver.settings.get("plugged")
        if plugged is not None and not os.path.exists(plugged):
            raise RuntimeError(f"no instrument answers at {key[0]}")
        super().__init__(driver, key, **kwargs)
        self.level = 1.0
        self.points = 0

    def do_task(self, task, t_start, t_now, **kwargs):
        self.points += 1
        if task.technique_name == "crash" and self.points >= 3:
            raise OSError("the instrument stopped answering")
        super().do_task(task, t_start, t_now, **kwargs)

    def prepare_task(self, task, **kwargs):
        self.points = 0
        super().prepare_task(task, **kwargs)

    def do_measure(self, **kwargs):
        self.last_data = xr.Dataset(
            {"level": (["uts"], [self.level])},
            coords={"uts": (["uts"], [datetime.now().timestamp()])})

    @coerce_val
    def set_attr(self, attr, val, **kwargs):
        if attr == "level" and val < 0:
            raise ValueError(f"level must not be negative, got {val}")
        setattr(self, attr, val)
        return val

    def get_attr(self, attr, **kwargs):
        if attr == "explode":
            return 1 / 0
        if attr not in self.attrs():
            raise AttributeError(f"unknown attr: {attr!r}")
        return getattr(self, attr)

    def attrs(self, **kwargs):
        return {"level": Attr(type=float, rw=True, status=True)}

    def capabilities(self, **kwargs):
        return {"steady", "crash"}


class DriverInterface(ModelInterface):
    def DeviceFactory(self, key, **kwargs):
        return Device(self, key, **kwargs)

"""A DriverInterface 3.0 driver that misbehaves on purpose, as real ones do.

- registering fails (RuntimeError) until the file named by its `plugged` setting exists;
- an address under /dev/ that does not exist fails as pyserial does (an OSError: the driver
  ends, as the 3.0 contract says);
- the technique `crash` raises in its worker thread at its third point, once per component
  (its thread ends: state `stop`); `crash_always` does so at every third point;
- a one-shot measurement raises while the file named by `measure_fails` exists.
"""

import os
from datetime import UTC, datetime

import xarray as xr

from tomato.driverinterface_3_0 import Attr, ModelComponent, ModelInterface, Settings
from tomato.driverinterface_3_0.decorators import coerce_val


class Settings(Settings):
    plugged: str | None = None
    measure_fails: str | None = None


class DriverInterface(ModelInterface):
    pass


class Component(ModelComponent):
    def __init__(self, driver, name, **kwargs):
        address = kwargs.get("address") or ""
        if address.startswith("/dev/") and not os.path.exists(address):
            raise OSError(f"could not open port {address}: [Errno 2] No such file or directory")
        plugged = driver.settings.plugged
        if plugged is not None and not os.path.exists(plugged):
            raise RuntimeError(f"no instrument answers at {kwargs.get('address')}")
        super().__init__(driver, name, **kwargs)
        self.level = 1.0
        self.points = 0
        self.crashed = False

    def prepare_task(self, task, **kwargs):
        self.points = 0
        super().prepare_task(task, **kwargs)

    def do_task(self, task, **kwargs):
        self.points += 1
        if self.points % 3 == 0 and (task.technique_name == "crash_always" or (
                task.technique_name == "crash" and not self.crashed)):
            self.crashed = True
            raise OSError("the instrument stopped answering")
        super().do_task(task, **kwargs)

    def do_measure(self, **kwargs):
        fails = self.driver.settings.measure_fails
        if fails is not None and os.path.exists(fails):
            raise OSError("the instrument's buffer is corrupt")
        self.last_data = xr.Dataset(
            {"level": (["uts"], [self.level], {"units": "V"})},
            coords={"uts": (["uts"], [datetime.now(UTC).timestamp()])})

    @coerce_val
    def set_attr(self, attr, val, **kwargs):
        setattr(self, attr, val)
        return val

    def get_attr(self, attr, **kwargs):
        if attr not in self.attrs():
            raise AttributeError(f"unknown attr: {attr!r}")
        return getattr(self, attr)

    def attrs(self, **kwargs):
        return {"level": Attr(type=float, rw=True, status=True, units="V")}

    def capabilities(self, **kwargs):
        return {"steady", "crash", "crash_always"}

    def quit(self, **kwargs):
        pass

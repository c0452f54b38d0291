"""Finding DriverInterface 2.1 drivers (the `tomato.driver_hosts` entry point): light, so a
service learns which drivers are installed without loading pydantic, pint or xarray; a
driver's module and the host (`host.py`) load when a device process runs one."""

from ..hosting import PackageHost

HOST = PackageHost("2.1", "tomato.driverinterface_2_1")

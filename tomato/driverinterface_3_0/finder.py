"""Finding DriverInterface 3.0 drivers (the `tomato.driver_hosts` entry point): light, so a
service learns which drivers are installed without loading pydantic, pint or xarray; a
driver's module and the host (`host.py`) load when a device process runs one."""

from ..hosting import PackageHost

HOST = PackageHost("3.0", "tomato.driverinterface_3_0")

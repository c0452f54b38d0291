"""Finding DriverInterface 2.1 drivers (the `tomato.driver_hosts` entry point): light, so a
service learns which drivers are installed without loading pydantic, pint and the payload
models; a driver's module and the host (`host.py`) load when a device process runs one."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import TYPE_CHECKING

from tomato.drivers import UnknownDriverError

if TYPE_CHECKING:
    from tomato.drivers import Driver

PREFIX = "tomato_"


class Host21:
    """Finds DriverInterface 2.1 packages: a module `tomato_<name>` with a `DriverInterface`."""

    def names(self) -> set[str]:
        return {m.name.removeprefix(PREFIX) for m in pkgutil.iter_modules()
                if m.name.startswith(PREFIX)}

    def load(self, name: str) -> type[Driver] | None:
        if importlib.util.find_spec(PREFIX + name) is None:
            return None
        module = importlib.import_module(PREFIX + name)
        driver = self.adopt(name, module)
        if driver is None:
            version = getattr(getattr(module, "DriverInterface", None), "version", None)
            raise UnknownDriverError(
                f"driver {name!r} (module {module.__name__}) implements DriverInterface "
                f"{version or '(none found)'}; this tomato runs DriverInterface 2.1")
        return driver

    def adopt(self, name: str, found: object) -> type[Driver] | None:
        """`found`: a 2.1 driver's module or its DriverInterface class."""
        from ._model import ModelInterface
        from .host import Driver21

        interface = getattr(found, "DriverInterface", found)
        if not (isinstance(interface, type) and issubclass(interface, ModelInterface)):
            return None
        return type(f"{interface.__name__}_{name}", (Driver21,),
                    {"name": name, "interface": interface})


HOST = Host21()

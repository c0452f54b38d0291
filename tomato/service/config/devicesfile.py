"""The devices file (tomato 0.2 and 2.x forms) → device and pipeline specs, with line numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...errors import ConfigError


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    driver: str
    address: str | None
    channels: tuple[str, ...]
    capabilities: tuple[str, ...] | None
    """None: whatever the driver offers (2.x form)."""
    pollrate: float = 1.0
    line: int = 0


@dataclass(frozen=True)
class Component:
    role: str
    device: str
    channel: str


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    components: tuple[Component, ...]


@dataclass(frozen=True)
class Lab:
    """The parsed devices file: what can be driven and how it is grouped."""

    source: str
    devices: tuple[DeviceSpec, ...]
    pipelines: tuple[PipelineSpec, ...]


DEFAULT_LAB = Lab(
    source="built-in default",
    devices=(DeviceSpec("dummy_device", "dummy", None, ("5", "10"), ("random", "sequential")),),
    pipelines=(
        PipelineSpec("dummy-5", (Component("worker", "dummy_device", "5"),)),
        PipelineSpec("dummy-10", (Component("worker", "dummy_device", "10"),)),
    ),
)


class _Map(dict[str, Any]):
    line = 0


class _Loader(yaml.SafeLoader):
    """A safe loader whose mappings remember the line they start on."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    result = _Map(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def load_lab(path: Path) -> Lab:
    """Parse the devices file at `path`, or the built-in default when there is none."""
    if not path.exists():
        return DEFAULT_LAB
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError(f"{path}:{line}: YAML syntax error: {exc.problem}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start})") from None
    except (OSError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{path}: cannot be read: {str(exc) or type(exc).__name__}") from None
    return _Parser(path).lab(raw)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Any, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{getattr(node, 'line', 1)}: {message}")

    def lab(self, raw: Any) -> Lab:
        if not isinstance(raw, _Map):
            raise self.fail(raw, "expected a mapping with 'devices' and 'pipelines'")
        self.keys(raw, "the devices file", required={"devices", "pipelines"}, optional=set())
        devices = tuple(self.device(d) for d in self.seq(raw, "devices"))
        by_name = {d.name: d for d in devices}
        if len(by_name) != len(devices):
            raise self.fail(raw, "device names must be unique")
        pipelines: list[PipelineSpec] = []
        for node in self.seq(raw, "pipelines"):
            pipelines.extend(self.pipeline(node, by_name))
        names = [p.name for p in pipelines]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise self.fail(raw, f"pipeline names must be unique: {', '.join(dupes)}")
        return Lab(str(self.path), devices, tuple(pipelines))

    def seq(self, node: _Map, key: str) -> list[Any]:
        value = node[key]
        if not isinstance(value, list) or not value:
            raise self.fail(node, f"'{key}' must be a non-empty list")
        return value

    def keys(self, node: Any, what: str, required: set[str], optional: set[str]) -> None:
        if not isinstance(node, _Map):
            raise self.fail(node, f"{what} must be a mapping")
        if missing := sorted(required - node.keys()):
            raise self.fail(node, f"{what}: missing {', '.join(missing)}")
        if unknown := sorted(node.keys() - required - optional):
            raise self.fail(node, f"{what}: unknown key {', '.join(map(str, unknown))}")

    def device(self, node: Any) -> DeviceSpec:
        self.keys(node, "device", required={"name", "driver", "channels"},
                  optional={"address", "capabilities", "pollrate"})
        name = str(node["name"])
        channels = node["channels"]
        if not isinstance(channels, list) or not channels:
            raise self.fail(node, f"device {name!r}: 'channels' must be a non-empty list")
        caps = node.get("capabilities")
        if caps is not None and (not isinstance(caps, list) or not caps):
            raise self.fail(node, f"device {name!r}: 'capabilities' must be a non-empty list")
        pollrate = node.get("pollrate", 1)
        if not isinstance(pollrate, (int, float)) or pollrate <= 0:
            raise self.fail(node, f"device {name!r}: 'pollrate' must be a number > 0")
        address = node.get("address")
        return DeviceSpec(name, str(node["driver"]), None if address is None else str(address),
                          tuple(str(c) for c in channels),
                          None if caps is None else tuple(str(c) for c in caps),
                          float(pollrate), node.line)

    def pipeline(self, node: Any, devices: dict[str, DeviceSpec]) -> list[PipelineSpec]:
        form = "components" if isinstance(node, _Map) and "components" in node else "devices"
        self.keys(node, "pipeline", required={"name", form}, optional=set())
        name = str(node["name"])
        parts = [self.component(c, name, devices) for c in self.seq(node, form)]
        each = [p for p in parts if p.channel == "each"]
        if not each:
            if "*" in name:
                raise self.fail(node, f"pipeline {name!r}: '*' needs a component with "
                                      "channel 'each'")
            return [PipelineSpec(name, tuple(parts))]
        if len(each) > 1 or "*" not in name:
            raise self.fail(node, f"pipeline {name!r}: channel 'each' needs one such "
                                  "component and a '*' in the name")
        return [
            PipelineSpec(name.replace("*", channel), tuple(
                Component(p.role, p.device, channel) if p.channel == "each" else p
                for p in parts))
            for channel in devices[each[0].device].channels
        ]

    def component(self, node: Any, pipeline: str, devices: dict[str, DeviceSpec]) -> Component:
        if isinstance(node, _Map) and "role" in node:
            self.keys(node, "component", required={"role", "device", "channel"}, optional=set())
            role, device = str(node["role"]), str(node["device"])
        else:
            self.keys(node, "component", required={"tag", "name", "channel"}, optional=set())
            role, device = str(node["tag"]), str(node["name"])
        if device not in devices:
            raise self.fail(node, f"pipeline {pipeline!r}: device {device!r} is not defined")
        channel = str(node["channel"])
        if channel != "each" and channel not in devices[device].channels:
            raise self.fail(node, f"pipeline {pipeline!r}: device {device!r} has no channel "
                                  f"{channel!r} (it has {', '.join(devices[device].channels)})")
        return Component(role, device, channel)

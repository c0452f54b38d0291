"""`tomato reload`: the devices file and the drivers' settings read again while running.

Devices and pipelines are added, changed and removed; a device whose driver settings
changed is restarted with them. What a running job uses is not touched: such a change
refuses the whole reload, with the reasons, and nothing changes.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ...errors import ConfigError, ConflictError
from ...messages import Reloaded
from ..config.devicesfile import DeviceSpec, Lab, load_lab
from ..config.settings import SETTINGS_FILE, Settings, load_settings
from ..scheduling.pipelines import Pipelines
from .components import Components
from .devices import Devices, check_drivers, check_settings, start_device, techniques_of

logger = logging.getLogger(__name__)


async def reload_lab(current: Settings, devices: Devices, pipelines: Pipelines,
                     components: Components) -> tuple[Reloaded, Settings]:
    """Apply the devices file and settings as they are now: what changed, and the settings
    the service runs with now (the drivers' settings are new); raises ConfigError (a file
    is wrong) or ConflictError (a change would touch a running job), changing nothing. The
    queue is then to be matched again."""
    settings = _settings(current)
    lab = load_lab(current.devices_file)  # where it is now: a new path needs a restart
    check_drivers(lab)
    old = {d.name: d for d in devices.lab.devices}
    new = {d.name: d for d in lab.devices}
    changed = [n for n in old.keys() & new.keys() if _differs(old[n], new[n], current,
                                                                settings)
               or devices.upgraded(new[n])]
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    _refuse_if_in_use(pipelines, lab, {*changed, *removed})
    for name in {new[n].driver: n for n in (*changed, *added)}.values():
        await check_settings(new[name], settings)  # a key its driver refuses: nothing done
    for name in (*removed, *changed):  # no job starts on them while they change
        pipelines.device_failed(name, "being reloaded")
    for name in (*removed, *changed):
        await devices.remove(name)
    current = replace(current, drivers=settings.drivers)
    devices.use(lab)
    techniques = {n: ts for n, ts in pipelines.device_techniques().items() if n in new
                  and n not in changed}
    failed: list[str] = []
    for name in (*changed, *added):
        techniques[name] = await _start(devices, new[name], settings, failed)
        devices.started(new[name])
    pipelines.use(lab, techniques)
    for name in changed:
        pipelines.device_failed(name, None)
    for name in failed:
        pipelines.device_failed(name, devices.reason(name) or "did not start")
    components.follow_added()
    report = Reloaded(tuple(added), tuple(changed), tuple(removed), tuple(failed),
                      _not_applied(current, settings))
    logger.info("reloaded: %s", report)
    return report, current


def _settings(current: Settings) -> Settings:
    if not (current.config_dir / SETTINGS_FILE).exists():
        raise ConfigError(f"{current.config_dir / SETTINGS_FILE}: missing")
    return load_settings(current.config_dir, None, log_level=current.log_level,
                         test_mode=current.test_mode, rundir=current.runtime_dir)


def _differs(old: DeviceSpec, new: DeviceSpec, old_settings: Settings,
             new_settings: Settings) -> bool:
    """Whether the device must be restarted: its spec or its driver's settings changed."""
    return (replace(old, line=0) != replace(new, line=0)
            or old_settings.drivers.get(old.driver) != new_settings.drivers.get(new.driver))


def _refuse_if_in_use(pipelines: Pipelines, new: Lab, devices: set[str]) -> None:
    """Raise ConflictError listing what a running job uses that the reload would change."""
    reasons = []
    specs = {p.name: p for p in new.pipelines}
    kept = {d.name for d in new.devices}
    for p in pipelines.all.values():
        if p.jobid is None:
            continue
        why = []
        if p.name not in specs:
            why.append(f"pipeline {p.name} would be removed")
        elif specs[p.name] != p.spec:
            why.append(f"pipeline {p.name} would change")
        why += [f"device {d} would {'restart' if d in kept else 'be removed'}"
                for d in sorted({c.device for c in p.spec.components} & devices)]
        if why:
            reasons.append(f"job {p.jobid} runs on it: {', '.join(why)}")
    if reasons:
        raise ConflictError(f"reload refused, nothing changed: {'; '.join(reasons)}")


async def _start(devices: Devices, device: DeviceSpec, settings: Settings,
                 failed: list[str]) -> dict:
    """Start a new (or changed) device; returns its techniques ({} if it did not start)."""
    info = await start_device(devices.procs, device, settings)
    if devices.procs.pid(f"dev-{device.name}") is None:  # it did not start
        failed.append(device.name)
        return {}
    try:
        return techniques_of(devices.lab, device, info)
    except ConfigError as exc:  # a capability its driver does not have: failed, as it says
        await devices.remove(device.name, reason=str(exc))
        failed.append(device.name)
        return {}


def _not_applied(current: Settings, read: Settings) -> tuple[str, ...]:
    """Settings that changed but take effect only when tomato restarts."""
    names = ("state_db", "jobs_dir", "devices_file", "poll_interval", "standby",
             "per_host",
             "output_servers", "orphan_grace")
    return tuple(f"{name} (takes effect when tomato restarts)" for name in names
                 if getattr(current, name) != getattr(read, name))

"""The devices file in both forms (tomato 0.2 and 2.x), read in-process with line numbers."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from tomato.errors import ConfigError
from tomato.service.config.devicesfile import DEFAULT_LAB, Component, load_lab


def lab_of(tmp_path, text):
    path = tmp_path / "devices.yml"
    path.write_text(text)
    return load_lab(path)


def test_without_a_file_the_built_in_dummy_pipelines_are_used(tmp_path):
    assert load_lab(tmp_path / "devices.yml") is DEFAULT_LAB
    assert [p.name for p in DEFAULT_LAB.pipelines] == ["dummy-5", "dummy-10"]


def test_the_example_file_reads(tmp_path):
    lab = load_lab(EXAMPLES / "devices.yml")
    assert lab.devices and lab.pipelines


def test_each_channel_becomes_a_pipeline_with_the_star_replaced(tmp_path):
    lab = lab_of(tmp_path, "devices:\n  - {name: d, driver: dummy, channels: [1, 2]}\n"
                           "pipelines:\n  - name: p-*\n    devices:\n"
                           "      - {tag: worker, name: d, channel: each}\n")
    assert [(p.name, p.components) for p in lab.pipelines] == [
        ("p-1", (Component("worker", "d", "1"),)), ("p-2", (Component("worker", "d", "2"),))]
    assert lab.devices[0].line == 2


def test_the_2x_form_names_roles(tmp_path):
    lab = lab_of(tmp_path, "devices:\n  - {name: d, driver: dummy, channels: [5]}\n"
                           "pipelines:\n  - name: p\n    components:\n"
                           "      - {role: worker, device: d, channel: 5}\n")
    assert lab.pipelines[0].components == (Component("worker", "d", "5"),)
    assert lab.devices[0].capabilities is None  # whatever the driver offers


@pytest.mark.parametrize(("text", "expected"), [
    ("[", "devices.yml:1: YAML syntax error"),
    ("- a\n", "devices.yml:1: expected a mapping with 'devices' and 'pipelines'"),
    ("devices: []\npipelines: []\n", "devices.yml:1: 'devices' must be a non-empty list"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1], colour: red}\npipelines: [x]\n",
     "devices.yml:2: device: unknown key colour"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1], pollrate: 0}\npipelines: [x]\n",
     "devices.yml:2: device 'd': 'pollrate' must be a number > 0"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1]}\n"
     "  - {name: d, driver: dummy, channels: [2]}\npipelines:\n"
     "  - {name: p, devices: [{tag: w, name: d, channel: 1}]}\n",
     "devices.yml:1: device names must be unique"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1]}\npipelines:\n"
     "  - {name: p, devices: [{tag: w, name: d, channel: 1}]}\n"
     "  - {name: p, devices: [{tag: w, name: d, channel: 1}]}\n",
     "devices.yml:1: pipeline names must be unique: p"),
    ("devices:\n  - {name: d, driver: dummy, channels: [1]}\npipelines:\n"
     "  - {name: p, devices: [{tag: w, name: d, channel: each}]}\n",
     "devices.yml:4: pipeline 'p': channel 'each' needs one such component and a '*'"),
])
def test_a_bad_devices_file_is_refused_naming_its_line(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        lab_of(tmp_path, text)
    assert expected in str(info.value)


@pytest.mark.parametrize(("content", "expected"), [
    (b"devices:\n  - {name: d\xff}\n", "devices.yml: not UTF-8 text (byte 0xff"),
    ("devices: []\n".encode("utf-16"), "devices.yml: not UTF-8 text"),
    (b"[" * 5000 + b"]" * 5000, "devices.yml: cannot be read"),
])
def test_a_devices_file_that_is_not_text_is_refused_in_one_line(tmp_path, content, expected):
    (tmp_path / "devices.yml").write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_lab(tmp_path / "devices.yml")
    assert expected in str(info.value)

"""settings.toml read by its model: every error names the file, the line and the key."""

from __future__ import annotations

import pytest

from tomato.errors import ConfigError
from tomato.service.config.settings import load_settings


def settings(tmp_path, text):
    (tmp_path / "settings.toml").write_text(text)
    return load_settings(tmp_path, None, rundir=tmp_path / "run")


def test_first_run_writes_the_defaults_and_reads_them_back(tmp_path):
    s = load_settings(tmp_path, None, rundir=tmp_path / "run")
    assert (tmp_path / "settings.toml").exists()
    assert (s.standby, s.per_host, s.output_servers, s.poll_interval) == (1, 500, 2, 30.0)
    assert s.state_db == (tmp_path / "tomato.db").resolve()


def test_values_and_driver_settings_are_read(tmp_path):
    s = settings(tmp_path, '[paths]\njobs = "j"\n[jobs]\npoll_interval = 1\nstandby = 0\n'
                           '[drivers.dummy]\nspeed = 3\n')
    assert s.jobs_dir == (tmp_path / "j").resolve()
    assert (s.poll_interval, s.standby, s.drivers) == (1.0, 0, {"dummy": {"speed": 3}})


@pytest.mark.parametrize(("text", "expected"), [
    # The key's own section decides its line, not the first line with that name.
    ('[paths]\njobs = "x"\n\n[jobs]\njobs = 1\n', "settings.toml:5: unknown key 'jobs' in [jobs]"),
    ('[paths]\nstate = "x.db"\n\n[jobs]\npoll = 1\n', "settings.toml:5: unknown key 'poll'"),
    ("[jobs]\n\nstandby = -1\n", "settings.toml:3: [jobs] standby: input should be greater"),
    ("[jobs]\nstandby = 1.5\n", "settings.toml:2: [jobs] standby: input should be a valid int"),
    ("[jobs]\npoll_interval = true\n", "settings.toml:2: [jobs] poll_interval: input should"),
    ("[jobs]\noutput_servers = 17\n", "settings.toml:2: [jobs] output_servers: input should be"),
    ("[x]\na = 1\n", "settings.toml:1: unknown section [x]"),
    ("# top\nstandby = 1\n", "settings.toml:2: unknown key 'standby' outside a section"),
    ("[drivers]\ndummy = 1\n", "settings.toml:2: [drivers.NAME] tables expected"),
    ('[cluster]\nurl = "http://lab:4222"\n',
     "settings.toml:2: [cluster] url: one or more nats:// or tls:// URLs, comma-separated "
     "expected, not 'http://lab:4222'"),
    ('[cluster]\nurl = "nats://lab"\nhost = "pc 17"\n', "settings.toml:3: [cluster] host: a name"),
    ('[cluster]\nhost = "pc-17"\n', "settings.toml:1: [cluster] url: field required"),
    ('[cluster]\nurl = "nats://lab"\nreplicas = 7\n', "settings.toml:3: [cluster] replicas: "),
    ('[cluster]\nurl = "nats://lab"\nkeep_finished = 0\n',
     "settings.toml:3: [cluster] keep_finished: "),
    ('[cluster]\nurl = "nats://lab"\ncredentials = "no.creds"\n',
     "settings.toml: [cluster] no.creds: no such file"),
    ('[sharing]\nsocket = "/no/such/folder/lab.sock"\ngroup = "root"\n',
     "settings.toml: [sharing] socket: no folder /no/such/folder"),
    ('[sharing]\nsocket = "lab.sock"\ngroup = "no-such-group"\n',
     "settings.toml: [sharing] group: no group named 'no-such-group'"),
    ('[sharing]\nsocket = "lab.sock"\n', "settings.toml:1: [sharing] group: field required"),
    ("[jobs\n", "settings.toml: "),
])
def test_a_bad_settings_file_is_refused_naming_line_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        settings(tmp_path, text)
    assert expected in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_a_cluster_table_is_read_with_paths_from_the_settings_folder(tmp_path):
    (tmp_path / "lab.creds").write_text("creds")
    s = settings(tmp_path, '[cluster]\nurl = "nats://a:4222, tls://b"\ncredentials = "lab.creds"\n')
    assert s.cluster is not None
    assert s.cluster.urls == ("nats://a:4222", "tls://b")
    assert s.cluster.credentials == (tmp_path / "lab.creds").resolve()
    assert s.cluster.host and s.cluster.replicas == 1  # the host name, one copy
    assert s.cluster.keep_finished == 7  # days
    assert settings(tmp_path, "").cluster is None

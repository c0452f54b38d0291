"""Who may join: a NATS server with users, and one with TLS. A tomato with the right
secrets joins; one without keeps running alone and says why."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from clusterlab import BENCH, RANDOM_ONLY, NatsServer
from conftest import LEAN, new_service, private_env, stop_all, until


def tomatos(tmp_path, runtime_base, hosts):
    """Services in their own folders: (host, devices, [cluster] lines)."""
    made = []
    for host, devices, lines in hosts:
        (tmp_path / f"{host}-env").mkdir()
        made.append(new_service(tmp_path / host, private_env(tmp_path / f"{host}-env",
                                                             runtime_base), devices,
                                f'{LEAN}[cluster]\nhost = "{host}"\n{lines}').start())
    return made


def test_only_a_tomato_with_the_password_joins(tmp_path, runtime_base):
    (tmp_path / "nats").mkdir()
    server = NatsServer(tmp_path / "nats", "--user", "lab", "--pass", "s3cret").start()
    made = []
    try:
        address = f"127.0.0.1:{server.port}"
        made = tomatos(tmp_path, runtime_base, [
            ("pc-a", RANDOM_ONLY, f'url = "nats://lab:s3cret@{address}"\n'),
            ("pc-b", BENCH, f'url = "nats://lab:s3cret@{address}"\n'),
            ("pc-x", BENCH, f'url = "nats://lab:guess@{address}"\n')])
        a, _, x = made
        until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b on pc-a")
        until(lambda: "uthorization" in x.log.read_text(), 20, "pc-x told why it is alone")
        assert not any(":" in name for name in x.pipelines())  # alone, but running
        assert "pc-x:bench-7" not in a.pipelines()
    finally:
        stop_all(made)
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl to make certificates")
def test_tomatos_join_over_tls_with_the_lab_s_certificate_authority(tmp_path, runtime_base):
    pki = tmp_path / "pki"
    pki.mkdir()

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=pki, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "1", "-subj", "/CN=lab-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext")
    (tmp_path / "nats").mkdir()
    server = NatsServer(tmp_path / "nats", "--tls", "--tlscert", str(pki / "server.pem"),
                        "--tlskey", str(pki / "server.key"), scheme="tls").start()
    made = []
    try:
        ca = f'tls_ca = "{pki / "ca.pem"}"\n'
        made = tomatos(tmp_path, runtime_base, [
            ("pc-a", RANDOM_ONLY, f'url = "{server.url}"\n{ca}'),
            ("pc-b", BENCH, f'url = "{server.url}"\n{ca}'),
            ("pc-x", BENCH, f'url = "{server.url}"\n')])  # does not trust the lab's CA
        a, _, x = made
        until(lambda: "pc-b:bench-7" in a.pipelines(), 20, "pc-b on pc-a")
        until(lambda: "CERTIFICATE_VERIFY_FAILED" in x.log.read_text(), 20,
              "pc-x told why it is alone")
        assert "pc-x:bench-7" not in a.pipelines()
    finally:
        stop_all(made)
        server.stop()

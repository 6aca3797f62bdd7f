"""Cluster settings: the flag, environment and TOML forms, and what goes together."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickgate import cli
from tickgate import config as configuration


def test_cluster_settings_from_flags_environment_and_file(tmp_path: Path) -> None:
    file = tmp_path / "tickgate.toml"
    file.write_text('nats = "nats://10.0.0.5:4222"\ncluster = "prod"\ncluster_role = "edge"\n')
    from_file = configuration.load(config_file=file, environ={})
    assert (from_file.nats, from_file.cluster, from_file.cluster_role) == (
        "nats://10.0.0.5:4222",
        "prod",
        "edge",
    )
    env = {"TICKGATE_NATS": "tls://n1:4222,tls://n2:4222", "TICKGATE_CLUSTER": "prod"}
    from_env = configuration.load(environ=env)
    assert from_env.nats == "tls://n1:4222,tls://n2:4222" and from_env.cluster_role == "core"
    flags = configuration.load({"nats": "nats://h:1", "cluster": "x", "workers": None}, environ={})
    assert flags.cluster == "x"
    assert configuration.load({"workers": 2}, environ={}).workers == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"nats": "nats://h:1"}, "--nats needs a cluster name"),
        ({"cluster": "x"}, "--cluster needs the NATS server"),
        ({"cluster_role": "edge"}, "--cluster-role edge needs --nats"),
        ({"cluster_role": "spare", "nats": "nats://h:1", "cluster": "x"}, "cluster_role must be"),
        ({"cluster": "a.b", "nats": "nats://h:1"}, "cluster must be 1-64 letters"),
        ({"workers": 2, "nats": "nats://h:1", "cluster": "x"}, "--workers runs its own"),
        ({"workers": -1}, "workers must be between 0 and 64"),
        ({"nats_tls_cert": Path("c.pem"), "nats": "nats://h:1", "cluster": "x"}, "go together"),
    ],
)
def test_cluster_settings_that_cannot_work_are_refused(
    flags: dict[str, object], message: str
) -> None:
    with pytest.raises(configuration.ConfigProblems, match=message):
        configuration.load(flags, environ={})


def test_check_config_shows_the_nats_url_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "tickgate.toml"
    file.write_text('nats = "nats://bot:s3cret@10.0.0.5:4222"\ncluster = "prod"\n')
    assert cli.main(["check-config", str(file)]) == 0
    out = capsys.readouterr().out
    assert "nats = nats://10.0.0.5:4222" in out and "s3cret" not in out
    assert "cluster = prod" in out and "cluster_role = core" in out

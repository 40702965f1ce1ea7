"""The Ray executor against a local Ray: same members, same numbers as the local executor."""

import importlib.util
import json

import pytest

if importlib.util.find_spec("ray") is None:  # imported by the executor, not at collection
    pytest.skip("needs ray", allow_module_level=True)


@pytest.mark.long
def test_ray_executor_matches_local(cli, tmp_path):
    args = ["sweep", "--preset", "baseline", "--preset", "noise", "--seeds", "0-2",
            "--steps", "300", "--quiet"]
    assert cli([*args, "--workers", "1", "--out", tmp_path / "local"]).exit_code == 0
    res = cli([*args, "--executor", "ray", "--out", tmp_path / "ray"])
    assert res.exit_code == 0, res.stderr
    local = (tmp_path / "local" / "summary.json").read_text()
    assert (tmp_path / "ray" / "summary.json").read_text() == local
    assert json.loads(local)["n"] == 6
    from pointgan_cli.store import sweepdir

    a = sweepdir.member_metrics(tmp_path / "local", "noise-s0002")
    b = sweepdir.member_metrics(tmp_path / "ray", "noise-s0002")
    assert a == b and len(a) > 10


def test_unreachable_ray_address_is_one_line(cli, tmp_path):
    res = cli(["sweep", "--seeds", "0", "--steps", "10", "--executor", "ray",
               "--ray-address", "127.0.0.1:1", "--out", tmp_path / "s"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1].startswith("Error: --ray-address")

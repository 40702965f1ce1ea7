"""benchmarks/pair_groups.py pairs two groups of one sweep with the sweep's own statistics: a
group against the sweep's reference gives exactly the p-values the sweep's summary.json holds
for it (McNemar on outcomes, sign test on times to converge), and the script prints them."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import invoke, load_script

from pointgan_cli.store.sweepdir import SweepDir

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "pair_groups.py"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The sweep the script reads, made in this process (the script itself runs as one)."""
    out = tmp_path_factory.mktemp("pg") / "s"
    invoke("sweep", "--preset", "baseline", "--preset", "fixed", "--seeds", "0-11", "--steps",
           "1500", "--out", out, "-q")
    return out


def test_a_pair_with_the_reference_gives_the_summary_s_p_values(sweep):
    pg = load_script("pair_groups")
    sd = SweepDir.open(sweep)
    fixed = next(g for g in sd.summary()["groups"] if g["group"] == "fixed")
    row = pg.compare(pg.by_seed(sd, "fixed"), pg.by_seed(sd, "baseline"), 0.1)
    assert row["a"] == fixed["converged"]
    assert row["pair"]["mcnemar_p"] == pytest.approx(fixed["mcnemar_p"])
    assert row["pair"]["only_group"] == fixed["paired"]["only_group"]
    assert row["sign"]["p"] == pytest.approx(fixed["converged_at_test"]["p"])
    assert row["conclusion"] == fixed["tolerance_robustness"]["conclusion"]


def test_the_script_prints_one_row_per_pair_and_refuses_an_odd_list(sweep):
    r = subprocess.run([sys.executable, str(SCRIPT), str(sweep), "fixed", "baseline",
                        "baseline", "fixed"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("| fixed") or
            ln.startswith("| baseline")]
    assert len(rows) == 2
    bad = subprocess.run([sys.executable, str(SCRIPT), str(sweep), "fixed"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode != 0 and "pairs" in bad.stderr
    missing = subprocess.run([sys.executable, str(SCRIPT), str(sweep), "nope", "fixed"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "no group 'nope'" in missing.stderr

"""``diagnose_sweep`` reads the batch store batch by batch (``StoredMembers.each``); it must give
exactly what diagnosing every member one by one (``members.load`` + ``diagnose_run``) gives:
classes, reasons, evidence and the report explorer's numbers, for finished, unfinished and
unstarted members alike (a run directory put at ``members/ID`` by hand is not the member)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pointgan_cli.cli.app import app
from pointgan_cli.diagnose import classify
from pointgan_cli.errors import UsageError
from pointgan_cli.report import explore
from pointgan_cli.store import sweepstore
from pointgan_cli.store.sweepdir import SweepDir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two presets x three seeds in batches of two; then one batch made unfinished (no
    summaries, its state at an earlier step), one batch removed (its members never started)
    with one of them exported by hand to its ``members/ID`` folder: not read, it stays not
    run."""
    out = tmp_path_factory.mktemp("batches") / "s"
    res = CliRunner().invoke(app, ["sweep", "--preset", "baseline", "--preset", "fixed",
                                   "--seeds", "0-2", "--steps", "60", "--max-batch", "2",
                                   "--workers", "1", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.stderr
    bids = sweepstore.batch_ids(out)
    assert len(bids) >= 4
    ids, state = sweepstore.read_state(sweepstore.state_path(out, bids[0]))
    state.pop("summaries")
    state["step"] = 30
    sweepstore.state_path(out, bids[0]).write_bytes(sweepstore.state_to_bytes(state, ids))
    gone = sweepstore.read_ids(sweepstore.state_path(out, bids[1]))
    assert len(gone) == 2
    SweepDir(out).members.export(gone[0], SweepDir(out).member_dir(gone[0]))
    sweepstore.state_path(out, bids[1]).unlink()
    sweepstore.metrics_path(out, bids[1]).unlink()
    return out


def _one_by_one(path, visit):
    """The per-member pass ``diagnose_sweep`` made before it read batch by batch."""
    members, sd = [], SweepDir(path)
    for e in sd.index.entries:
        if not sd.members.started(e.id):
            members.append({"id": e.id, "group": e.group, "class": classify.NOT_RUN,
                            "reason": f"{sd.member_dir(e.id)} has no metrics",
                            "evidence": None})
            visit(e.id, e.group, None, members[-1])
            continue
        run = None
        try:
            run = sd.members.load(e.id, losses=False)
            rep = classify.diagnose_run(run)
        except UsageError as exc:
            rep = {"class": classify.UNREADABLE, "reason": str(exc), "evidence": None}
        visit(e.id, e.group, run, rep)
        members.append({"id": e.id, "group": e.group,
                        **{k: rep[k] for k in ("class", "reason", "evidence")}})
    return members


def test_batch_wise_pass_equals_the_one_by_one_pass(sweep):
    n = len(SweepDir(sweep).ids)
    want_runs, got_runs = [], []
    want_page, got_page = explore.Builder("sweep", n), explore.Builder("sweep", n)

    def seen(runs, page):
        def visit(mid, group, run, rep):
            runs.append((mid, group, None if run is None else
                         (run.path, run.spec, run.command, run.metrics, run.summary), rep))
            page.add(mid, group, run, rep)
        return visit

    want = _one_by_one(sweep, seen(want_runs, want_page))
    got = classify.diagnose_sweep(SweepDir(sweep), seen(got_runs, got_page))
    assert got["members"] == want
    assert got_runs == want_runs
    assert got_page.data() == want_page.data()
    classes = {m["class"] for m in want}
    assert classify.NOT_RUN in classes  # the removed batch's other member
    assert any(r[3]["reason"].startswith("unfinished") for r in want_runs)
    assert any(r[2] is not None and r[2][4] is None for r in want_runs)  # no summary yet


def test_batch_rows_equal_each_members_rows(sweep):
    """``rows_of`` a slice of the stacked batch is ``rows`` of that member, key order too."""
    bid = sweepstore.batch_ids(sweep)[-1]
    metrics = sweepstore.read_metrics(sweepstore.metrics_path(sweep, bid))
    stacked = metrics.array()
    for i, mid in enumerate(metrics.ids):
        spec = SweepDir(sweep).members.load(mid).spec
        one, many = metrics.rows(i, spec, losses=False), metrics.rows_of(stacked[:, i], spec,
                                                                         losses=False)
        assert [list(r.items()) for r in many] == [list(r.items()) for r in one]

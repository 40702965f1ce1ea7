"""Each diagnose command as one library call: read, compute, write ``diagnose/``, return the
JSON document.

Runs are only read (through ``rundir.load_run`` and ``source.state_at``); the only thing ever
written is the command's own PNG + JSON pair, atomically, into ``RUN_DIR/diagnose/`` (or the
``--out`` folder the user names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..spec import RunSpec
from . import classify, landscape, plots, shapes, study
from .output import load_single_run, write_pair
from .source import state_at, trajectory

DEFAULT_OUT = Path("diagnose-out")  # loss-landscape without a run: the study's generator


def loss_landscape(
    run_dir: Path | None, step: int | None = None, out: Path | None = None,
    d_steps: int | None = None,
) -> dict[str, Any]:
    """Which discriminators the D loss prefers against the run's generator at ``step``.

    Without ``run_dir``: the study's failed generator and a D trained against it for
    ``d_steps`` Adam steps (default ``study.D_STEPS``), written to ``out`` or ``DEFAULT_OUT``."""
    target: Path | None  # None: the run's diagnose/ folder (``output.write_pair``)
    if run_dir is None:
        if step is not None:
            raise UsageError("--step needs RUN_DIR (without it the study's generator is used)")
        if d_steps is not None and not 1 <= d_steps <= study.MAX_D_STEPS:
            raise UsageError(f"--d-steps: must be between 1 and {study.MAX_D_STEPS} "
                             f"(got {d_steps})")
        spec = RunSpec()
        g = study.failed_generator()
        n = d_steps if d_steps is not None else study.D_STEPS
        d = study.train_discriminator(g, spec, steps=n)
        source: dict[str, Any] = {
            "kind": "study", "generator": "the study's failed run (w = 0.605, b = 0.015)",
            "discriminator": {"trainer": "Discriminator + torch.optim.Adam, generator frozen",
                              "steps": n, "lr": study.D_LR, "batch": study.D_BATCH,
                              "seed": study.D_SEED}}
        at, target = None, out if out is not None else DEFAULT_OUT
    else:
        if d_steps is not None:
            raise UsageError("--d-steps only applies without RUN_DIR (the study's generator)")
        run = load_single_run(run_dir)
        st = state_at(run, step)
        spec, g, d = run.spec, st.g, st.d
        if spec.loss != "bce":
            raise UsageError(f"loss-landscape compares discriminators under the study's BCE "
                             f"loss; {run_dir} was trained with --loss {spec.loss}")
        source = {"kind": "run", "run_dir": str(run_dir), "parameters_from": st.origin}
        at, target = st.step, out
    cands = landscape.candidates(d, g, spec)
    cands_l2 = landscape.candidates_equal_l2(d, g, spec)
    effects = {c.name: landscape.g_terms(c.d, g, spec) for c in cands + cands_l2}
    w, b = float(g[0]), float(g[1])
    doc: dict[str, Any] = {
        "command": "loss-landscape",
        "source": source,
        "step": at,
        "generator": {"w": w, "b": b, "outputs": [b - abs(w), b + abs(w)]},
        "loss_definition": {"real_value": spec.real_value, "label_easing": spec.label_easing,
                            "fake_weight": spec.fake_weight, "x_grid_points": shapes.X_POINTS,
                            "expectation": "mean over the midpoints of equal cells of [-1, 1]"},
        "weight_budget": dict(zip(("mean_abs_W1", "mean_abs_W2"), shapes.weight_scale(d)),
                              l2_norm_but_c2=float(d[:6].norm())),
        "candidates": [dict(c.to_json(g, spec.real_value), **effects[c.name]) for c in cands],
        "candidates_equal_l2": [dict(c.to_json(g, spec.real_value), **effects[c.name])
                                for c in cands_l2],
        "finding": landscape.finding(cands, spec.real_value, cands_l2, effects),
        "landscape": landscape.loss_surface(d, g, spec),
    }
    doc["files"] = write_pair(target, "loss-landscape", doc, plots.loss_landscape_png(doc),
                             None if run_dir is None else Path(run_dir))
    return doc


def generator_landscape(
    run_dir: Path, step: int | None = None, out: Path | None = None
) -> dict[str, Any]:
    """The G loss over (w, b) for the run's D at ``step``, with the run's trajectory."""
    run = load_single_run(run_dir)
    st = state_at(run, step)
    surf = landscape.generator_surface(st.d, trajectory(run), st.g, run.spec)
    run_cls = classify.run_class(run)
    doc: dict[str, Any] = {
        "command": "generator-landscape",
        "run_dir": str(run_dir),
        "step": st.step,
        "parameters_from": st.origin,
        "discriminator": [float(v) for v in st.d],
        "run_class": run_cls,
        "finding": f"the run is {run_cls['class']} ({run_cls['reason']}); "
        + landscape.generator_finding(surf, st.step),
        "surface": surf,
    }
    png = plots.generator_landscape_png(doc)
    doc["files"] = write_pair(out, "generator-landscape", doc, png, Path(run_dir))
    return doc




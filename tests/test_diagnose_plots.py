"""The stability figure: eigenvalues in the complex plane on linear axes, a zoom near zero that
holds the tolerance band, plain words instead of verdict tokens, a short title."""

from __future__ import annotations

from pointgan_cli.diagnose.plots import VERDICT_WORDS, stability_figure


def _doc(run_eigs, ideal_eigs, tol=7.5e-4, lr=0.01):
    def point(eigs, verdict):
        return {"eigenvalues": eigs, "tol": tol, "verdict": verdict,
                "gd_factors": [abs(complex(1 + lr * re, lr * im)) for re, im in eigs]}

    return {"step": 600, "lr": lr, "disc": {"centre": -1 / lr, "radius": 1 / lr},
            "run_point": point(run_eigs, "oscillating"),
            "ideal_point": point(ideal_eigs, "locally_convergent"),
            "finding": "a long sentence " * 20}


def test_stability_figure_is_linear_with_a_zoom_near_zero_and_plain_words():
    doc = _doc([[1.4e-5, 0.0], [-2e-5, 3e-5], [-2e-5, -3e-5], [-0.75, 0.0]],
               [[-0.01, 0.002], [-0.01, -0.002], [-0.74, 0.0]])
    fig = stability_figure(doc)
    near, every = fig.axes[:2]
    assert near.get_xscale() == every.get_xscale() == "linear"
    lo, hi = near.get_xlim()
    assert lo < -0.01 and 7.5e-4 < hi < 0.1  # the band and the slow modes, not the stiff one
    assert every.get_xlim()[0] < -0.75  # every eigenvalue on the right
    labels = [t.get_text() for t in near.get_legend().get_texts()]
    text = " ".join(labels + [t.get_text() for ax in fig.axes for t in ax.texts])
    assert "locally_convergent" not in text and VERDICT_WORDS["oscillating"] in text
    assert "outside this window" in text and "every mode shrinks" not in text
    title = fig._suptitle.get_text()
    assert title.startswith("Local stability at step 600") and len(title) < 100

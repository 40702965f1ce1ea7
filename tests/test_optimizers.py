"""The optimizers' updates (``optimizers``) against ``torch.optim``, one learning rate per run."""

from __future__ import annotations

import pytest
import torch

from pointgan_cli.engine.optimizers import Optimizer
from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec


def _optimizer(sgd: bool, momentum: float = 0.0) -> Optimizer:
    return Optimizer(sgd=sgd, momentum=momentum, beta1=0.9, beta2=0.999, eps=1e-8)


def _grads(steps: int, runs: int, size: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    return [torch.randn(runs, size, generator=g) * 10.0 ** torch.randint(-4, 2, (1,), generator=g)
            for _ in range(steps)]


@pytest.mark.parametrize("kind", ["adam", "sgd", "sgd-momentum"])
def test_each_run_follows_torch_optim_with_its_own_learning_rate(kind):
    runs, size, steps = 3, 7, 25
    lr = torch.tensor([[0.01], [0.003], [0.1]])
    upd = _optimizer(sgd=kind != "adam", momentum=0.9 if kind == "sgd-momentum" else 0.0)
    start = torch.randn(runs, size, generator=torch.Generator().manual_seed(1))
    p, m, v = start.clone(), torch.zeros(runs, size), torch.zeros(runs, size)
    ref = [start[r].clone().requires_grad_(True) for r in range(runs)]
    opts = [torch.optim.Adam([ref[r]], lr=float(lr[r]), betas=(0.9, 0.999), eps=1e-8,
                             foreach=False) if kind == "adam" else
            torch.optim.SGD([ref[r]], lr=float(lr[r]), momentum=upd.momentum, foreach=False)
            for r in range(runs)]
    for t, grad in enumerate(_grads(steps, runs, size), start=1):
        p = p - upd.direction(m, v, grad, lr, t)
        for r in range(runs):
            ref[r].grad = grad[r].clone()
            opts[r].step()
    want = torch.stack([x.detach() for x in ref])
    torch.testing.assert_close(p, want, rtol=1e-6, atol=1e-7)
    assert not torch.equal(p, start)


def test_a_step_count_on_the_device_gives_the_same_bits_as_a_python_int():
    """The captured step reads Adam's bias corrections from a device table; the eager step
    computes them from a Python int. Every step of a run of 40 must agree bit for bit."""
    tr = BatchTrainer([resolve_spec("fixed", overrides={"seed": s, "steps": 40})
                       for s in range(2)], step_mode="tensor")
    grads = _grads(40, 2, 7)
    m1, v1, m2, v2 = (torch.zeros(2, 7) for _ in range(4))
    for t, grad in enumerate(grads, start=1):
        a = tr.optimizer.direction(m1, v1, grad, tr.cfg.lr_d, t)
        b = tr.optimizer.direction(m2, v2, grad, tr.cfg.lr_d, torch.tensor([t]))
        assert torch.equal(a, b), t

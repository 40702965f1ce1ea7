import math

import pytest
import torch

from pointgan_cli import losses
from pointgan_cli.engine import BatchTrainer, batch_key
from pointgan_cli.models import Discriminator, Generator
from pointgan_cli.spec import resolve_spec

torch.set_num_threads(1)


def _run(specs):
    snaps = []
    with torch.inference_mode():
        BatchTrainer(specs).run(snaps.append)
    return snaps


def _flat(snaps, i):
    """Every metric of run i at every snapshot, as one float64 vector."""
    return torch.cat(
        [torch.cat([s.g[i], s.d[i], torch.stack([s.g_loss[i], s.d_loss[i], s.d_real[i],
                                                  s.d_fake[i]])]) for s in snaps]
    )


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("baseline", {}),
        ("easing", {"fake_weight": 0.5}),
        ("fixed", {}),
        ("fixed", {"weight_decay_mode": "l2", "batch_size": 10, "inner_batch": 3}),
        ("lsgan", {"instance_noise": 0.3, "label_easing": 0.1}),
        ("hinge", {"r1": 2.0, "d_steps": 2, "noise_scale": 0.5, "inner_batch": 2}),
        # fake weight != 1: with F = 1 the critic's bias gets an exactly-zero gradient, which
        # Adam turns into steps of size lr from rounding noise alone (in either implementation)
        ("wgan-gp", {"r2": 0.5, "update": "simultaneous", "batch_size": 70, "fake_weight": 0.5}),
        ("baseline", {"g_loss": "minimax", "optimizer": "sgd", "momentum": 0.9}),
        ("r1", {"instance_noise": 0.2, "d_steps": 3, "update": "simultaneous"}),
    ],
)
def test_training_steps_match_nn_module_reference(preset, extra):
    """Three engine steps equal the study's loop written on nn.Modules with torch.optim and
    autograd (double backward for the penalties), fed the engine's own random draws."""
    spec = resolve_spec(preset, overrides={"seed": 3, **extra})
    tr = BatchTrainer([spec])
    G = Generator.from_packed(tr.g[0].double())
    D = Discriminator.from_packed(tr.d[0].double())
    betas = (spec.beta1, spec.beta2)
    if spec.optimizer == "sgd":
        opt_g = torch.optim.SGD(G.parameters(), lr=spec.lr_g, momentum=spec.momentum)
        opt_d = torch.optim.SGD(D.parameters(), lr=spec.lr_d, momentum=spec.momentum)
    else:
        opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=betas)
        dopt = torch.optim.AdamW if spec.weight_decay_mode == "decoupled" else torch.optim.Adam
        opt_d = dopt(D.parameters(), lr=spec.lr_d, betas=betas, weight_decay=spec.weight_decay)
    K, B, Bp = spec.effective_inner_batch, spec.batch_size, tr.Bp
    N, nf = tr.N, tr.nf

    def d_loss(t, j):
        c = t - tr._chunk_start
        x = tr.x_chunk[0, c, j, :B].double()
        w, b = G.linear.weight.detach().reshape(()), G.linear.bias.detach().reshape(())
        fakes = []
        for k in range(K):
            if spec.noise_scale > 0:
                e = tr.eps_chunk[0, c, j, k].double()
                f = (w + e[0]) * x + (b + e[1])
            else:
                f = w * x + b
            if spec.instance_noise > 0:
                off = Bp + j * N + k * Bp
                f = f + tr.inst_chunk[0, c, off:off + B].double()
            fakes.append(f)
        reals = torch.full((64,), spec.real_value, dtype=torch.float64)
        if spec.instance_noise > 0:
            off = Bp + j * N + nf
            reals = reals + tr.inst_chunk[0, c, off:off + 64].double()
        allf = torch.cat(fakes)
        loss = losses.d_loss(D.logits(allf), D.logits(reals), spec.loss, spec.label_easing,
                             spec.fake_weight)
        if spec.r1 > 0:
            loss = loss + losses.zero_centred_penalty(_phi(D, reals), spec.r1)
        if spec.r2 > 0:
            loss = loss + losses.zero_centred_penalty(_phi(D, allf), spec.r2)
        if spec.gp_weight > 0:
            eps = tr.gp_chunk[0, c, j, :B].double()
            mix = fakes[0] + eps * (reals[torch.arange(B) % 64] - fakes[0])
            loss = loss + losses.one_centred_penalty(_phi(D, mix), spec.gp_weight)
        return loss

    for t in range(3):
        tr.x_at(t)  # load the chunk
        c = t - tr._chunk_start
        x = tr.x_chunk[0, c, 0, :B].double()
        y = G(x)
        if spec.instance_noise > 0:
            y = y + tr.inst_chunk[0, c, :B].double()
        opt_g.zero_grad()
        opt_d.zero_grad()
        losses.g_loss(D.logits(y), spec.loss, spec.g_loss).backward()
        if spec.update == "simultaneous":
            D.zero_grad()
            d_loss(t, 0).backward()
            opt_g.step()
            opt_d.step()
        else:
            opt_g.step()
            opt_d.zero_grad()
            d_loss(t, 0).backward()
            opt_d.step()
        for j in range(1, spec.d_steps):
            opt_d.zero_grad()
            d_loss(t, j).backward()
            opt_d.step()
        with torch.inference_mode():
            tr.train_step()
        torch.testing.assert_close(tr.g[0].double(), G.packed(), rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(tr.d[0].double(), D.packed(), rtol=2e-5, atol=2e-6)


def _phi(D, v):
    v = v.clone().requires_grad_(True)
    (phi,) = torch.autograd.grad(D.logits(v).sum(), v, create_graph=True)
    return phi


@pytest.mark.parametrize("preset", ["baseline", "fixed"])
def test_seeds_in_one_batch_equal_each_seed_alone(preset):
    specs = [resolve_spec(preset, overrides={"seed": s, "steps": 400}) for s in range(8)]
    batch = _run(specs)
    for i in (0, 5, 7):
        alone = _run([specs[i]])
        assert float((_flat(batch, i) - _flat(alone, 0)).abs().max()) < 1e-6
        assert torch.equal(_flat(batch, i), _flat(alone, 0))  # in fact bitwise


def test_mixed_hyperparameters_in_one_batch_equal_alone():
    specs = [
        resolve_spec("fixed", overrides={"seed": 1, "steps": 300, "lr_d": 0.003}),
        resolve_spec("noise", overrides={"seed": 2, "steps": 300, "label_easing": 0.1}),
        resolve_spec("fixed", overrides={"seed": 3, "steps": 300, "real_value": -2.0}),
    ]
    assert len({batch_key(s) for s in specs}) == 1
    batch = _run(specs)
    for i, spec in enumerate(specs):
        assert torch.equal(_flat(batch, i), _flat(_run([spec]), 0))


def test_same_spec_twice_is_identical():
    spec = resolve_spec("fixed", overrides={"seed": 11, "steps": 200})
    assert torch.equal(_flat(_run([spec]), 0), _flat(_run([spec]), 0))


def test_diverged_run_is_frozen_and_others_go_on():
    specs = [resolve_spec("baseline", overrides={"seed": s, "steps": 200}) for s in range(3)]
    clean = _run(specs)
    snaps = []
    with torch.inference_mode():
        tr = BatchTrainer(specs)
        snaps.append(tr.snapshot())
        while tr.step < 200:
            tr.train_step()
            if tr.step == 60:
                tr.g[1, 0] = math.nan  # poison run 1 between two snapshots
            if tr.step % 50 == 0:
                snaps.append(tr.snapshot())
    assert tr.alive.tolist() == [True, False, True]
    assert int(tr.diverged_step[1]) == 100
    assert torch.isfinite(tr.g).all() and torch.isfinite(tr.d).all()
    frozen = tr.g[1].clone()
    torch.testing.assert_close(frozen.double(), snaps[1].g[1])  # rolled back to step 50
    for i in (0, 2):
        assert torch.equal(_flat(snaps, i), _flat(clean, i))


def test_batch_key_separates_shapes():
    a = resolve_spec("baseline")
    assert batch_key(a) == batch_key(resolve_spec("easing", overrides={"seed": 4}))
    assert batch_key(a) != batch_key(resolve_spec("fixed"))
    with pytest.raises(ValueError):
        BatchTrainer([a, resolve_spec("fixed")])

import math

import pytest
import torch
import torch.nn.functional as F

from pointgan_cli.engine import BatchTrainer, batch_key, grads_d, grads_g
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


def test_grads_g_match_autograd():
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        g = torch.randn(1, 2, generator=gen, dtype=torch.float64)
        d = torch.randn(1, 7, generator=gen, dtype=torch.float64) * 2
        x = torch.rand(1, 64, generator=gen, dtype=torch.float64) * 2 - 1
        G, D = Generator.from_packed(g[0]), Discriminator.from_packed(d[0])
        loss = F.softplus(-D.logits(G(x[0]))).mean()
        loss.backward()
        want = torch.stack([G.linear.weight.grad.reshape(()), G.linear.bias.grad.reshape(())])
        got = grads_g(g, d, x, torch.full_like(x, 1 / 64))[0]
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_grads_d_match_autograd():
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        d = torch.randn(1, 7, generator=gen, dtype=torch.float64) * 2
        v = torch.randn(1, 128, generator=gen, dtype=torch.float64) * 2
        wv = torch.rand(1, 128, generator=gen, dtype=torch.float64)
        t = torch.rand(1, 128, generator=gen, dtype=torch.float64)
        D = Discriminator.from_packed(d[0])
        z = D.logits(v[0])
        loss = (wv[0] * (F.softplus(z) - t[0] * z)).sum()
        loss.backward()
        want = torch.cat([p.grad.reshape(-1) for p in (D.hidden.weight, D.hidden.bias,
                                                       D.out.weight, D.out.bias)])
        got = grads_d(d, v, wv, wv * t)[0]
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("baseline", {}),
        ("easing", {"fake_weight": 0.5}),
        ("fixed", {}),
        ("fixed", {"weight_decay_mode": "l2", "batch_size": 10, "inner_batch": 3}),
    ],
)
def test_training_steps_match_nn_module_reference(preset, extra):
    """Three engine steps equal the study's loop on nn.Modules with torch.optim."""
    spec = resolve_spec(preset, overrides={"seed": 3, **extra})
    tr = BatchTrainer([spec])
    G = Generator.from_packed(tr.g[0].double())
    D = Discriminator.from_packed(tr.d[0].double())
    opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=(spec.beta1, spec.beta2))
    dopt = torch.optim.AdamW if spec.weight_decay_mode == "decoupled" else torch.optim.Adam
    opt_d = dopt(D.parameters(), lr=spec.lr_d, betas=(spec.beta1, spec.beta2),
                 weight_decay=spec.weight_decay)
    E, Fw, K, B = spec.label_easing, spec.fake_weight, spec.effective_inner_batch, spec.batch_size
    real = torch.tensor([spec.real_value], dtype=torch.float64)
    for t in range(3):
        x = tr.x_at(t)[0, :B].double()
        opt_g.zero_grad()
        F.softplus(-D.logits(G(x))).mean().backward()
        opt_g.step()
        opt_d.zero_grad()
        w, b = G.linear.weight.detach().reshape(()), G.linear.bias.detach().reshape(())
        losses = []
        for k in range(K):
            if spec.noise_scale > 0:
                e = tr.eps_chunk[0, t - tr._chunk_start, k].double()
                fake = (w + e[0]) * x + (b + e[1])
            else:
                fake = w * x + b
            zf, zr = D.logits(fake), D.logits(real)
            bce_f = (F.softplus(zf) - E * zf).mean()
            bce_r = (F.softplus(zr) - (1 - E) * zr).mean()
            losses.append((Fw * bce_f + bce_r) / (1 + Fw))
        torch.stack(losses).mean().backward()
        opt_d.step()
        with torch.inference_mode():
            tr.train_step()
        torch.testing.assert_close(tr.g[0].double(), G.packed(), rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(tr.d[0].double(), D.packed(), rtol=2e-5, atol=2e-6)


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

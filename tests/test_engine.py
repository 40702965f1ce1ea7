import copy
import math

import pytest
import torch

from pointgan_cli.engine import losses
from pointgan_cli.engine.batching import batch_key
from pointgan_cli.engine.models import Discriminator, Generator
from pointgan_cli.engine.trainer import BatchTrainer
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


CASES = [
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
]
# the stabilisers: consensus (a third derivative through the penalties), extragradient,
# optimistic and LeCam, alone and combined with the study's and the literature's options
STABILISER_CASES = [
    ("baseline", {"consensus": 0.5}),
    ("r1", {"consensus": 0.3, "update": "simultaneous", "instance_noise": 0.2}),
    ("fixed", {"consensus": 0.2, "update": "simultaneous", "inner_batch": 2}),
    ("baseline", {"update": "extragradient"}),
    ("baseline", {"update": "extragradient", "optimizer": "sgd", "momentum": 0.5}),
    ("weight-decay", {"update": "optimistic"}),
    ("baseline", {"update": "optimistic", "optimizer": "sgd"}),
    ("hinge", {"lecam": 0.5, "instance_noise": 0.3, "d_steps": 2}),
    ("wgan-gp", {"lecam": 0.3, "update": "extragradient", "consensus": 0.1,
                 "fake_weight": 0.5}),
    ("baseline", {"update": "optimistic", "lecam": 1.0, "lecam_decay": 0.5, "d_steps": 2,
                  "consensus": 0.2}),
]


@pytest.mark.parametrize("preset, extra", CASES + STABILISER_CASES)
def test_training_steps_match_nn_module_reference(preset, extra):
    """Four engine steps equal the study's loop written on nn.Modules with torch.optim and
    autograd (double backward for the penalties, one more for consensus), fed the engine's own
    random draws."""
    spec = resolve_spec(preset, overrides={"seed": 3, **extra})
    tr = BatchTrainer([spec])
    ref = _Reference(spec, tr)
    for t in range(4):
        tr.randomness.x_at(t)  # load the chunk
        ref.step(t)
        with torch.inference_mode():
            tr.train_step()
        torch.testing.assert_close(tr.g[0].double(), ref.G.packed(), rtol=2e-5, atol=2e-6)
        torch.testing.assert_close(tr.d[0].double(), ref.D.packed(), rtol=2e-5, atol=2e-6)


class _Reference:
    """The training loop on nn.Modules: losses from ``losses``, gradients by autograd,
    torch.optim optimizers; the update schemes written out step by step."""

    def __init__(self, spec, tr):
        self.spec, self.tr = spec, tr
        self.G = G = Generator.from_packed(tr.g[0].double())
        self.D = D = Discriminator.from_packed(tr.d[0].double())
        betas = (spec.beta1, spec.beta2)
        if spec.optimizer == "sgd":
            self.opt_g = torch.optim.SGD(G.parameters(), lr=spec.lr_g, momentum=spec.momentum)
            self.opt_d = torch.optim.SGD(D.parameters(), lr=spec.lr_d, momentum=spec.momentum)
        else:
            self.opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr_g, betas=betas)
            # L2 decay is part of D's gradient (``grads``), so consensus sees it too
            decoupled = spec.weight_decay if spec.weight_decay_mode == "decoupled" else 0.0
            self.opt_d = torch.optim.AdamW(D.parameters(), lr=spec.lr_d, betas=betas,
                                           weight_decay=decoupled)
        self.ema = (torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64))
        self.ema_next = self.ema
        self.prev = None

    def g_loss(self, t):
        spec, tr = self.spec, self.tr.randomness
        c = t - tr.chunk_start
        x = tr.x_chunk[0, c, 0, :spec.batch_size].double()
        y = self.G(x)
        if spec.instance_noise > 0:
            y = y + tr.inst_chunk[0, c, :spec.batch_size].double()
        return losses.g_loss(self.D.logits(y), spec.loss, spec.g_loss)

    def d_loss(self, t, j):
        spec, tr, G, D = self.spec, self.tr.randomness, self.G, self.D
        c = t - tr.chunk_start
        B, Bp, N, nf = spec.batch_size, tr.Bp, tr.N, self.tr.game.nf
        x = tr.x_chunk[0, c, j, :B].double()
        w, b = G.linear.weight.reshape(()), G.linear.bias.reshape(())
        fakes = []
        for k in range(spec.effective_inner_batch):
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
        zf, zr = D.logits(allf), D.logits(reals)
        loss = losses.d_loss(zf, zr, spec.loss, spec.label_easing, spec.fake_weight)
        pw = 1.0 / (1.0 + spec.fake_weight)  # the papers' gamma/lambda in the averaged loss
        if spec.r1 > 0:
            loss = loss + losses.zero_centred_penalty(_phi(D, reals), pw * spec.r1)
        if spec.r2 > 0:
            loss = loss + losses.zero_centred_penalty(_phi(D, allf), pw * spec.r2)
        if spec.gp_weight > 0:
            eps = tr.gp_chunk[0, c, j, :B].double()
            mix = fakes[0] + eps * (reals[torch.arange(B) % 64] - fakes[0])
            loss = loss + losses.one_centred_penalty(_phi(D, mix), pw * spec.gp_weight)
        if spec.lecam > 0:  # anchors: EMAs updated with this batch's mean logits
            k = spec.lecam_decay
            a_real = k * self.ema[0] + (1 - k) * zr.detach().mean()
            a_fake = k * self.ema[1] + (1 - k) * zf.detach().mean()
            self.ema_next = (a_real, a_fake)
            loss = loss + spec.lecam * (((zr - a_fake) ** 2).mean() + ((zf - a_real) ** 2).mean())
        return loss

    def grads(self, t, j=0, who="both"):
        """Gradients (G's, D's) at the current parameters, each with consensus's J^T v."""
        spec, G, D = self.spec, self.G, self.D
        gp, dp = list(G.parameters()), list(D.parameters())
        graph = spec.consensus > 0
        gg = torch.autograd.grad(self.g_loss(t), gp, create_graph=graph)
        gd = torch.autograd.grad(self.d_loss(t, j), dp, create_graph=graph)
        if spec.weight_decay_mode == "l2" and spec.weight_decay > 0:
            gd = [a + spec.weight_decay * p for a, p in zip(gd, dp)]
        if graph:
            half = 0.5 * sum((a**2).sum() for a in [*gg, *gd])
            reg = torch.autograd.grad(half, gp + dp)
            gg = [a + spec.consensus * r for a, r in zip(gg, reg[:2])]
            gd = [a + spec.consensus * r for a, r in zip(gd, reg[2:])]
        return [a.detach() for a in gg], [a.detach() for a in gd]

    def _set(self, module, grads):
        for p, gr in zip(module.parameters(), grads):
            p.grad = gr.clone()

    def _params(self):
        return [p.detach().clone() for p in [*self.G.parameters(), *self.D.parameters()]]

    def _load(self, values):
        with torch.no_grad():
            for p, v in zip([*self.G.parameters(), *self.D.parameters()], values):
                p.copy_(v)

    def step(self, t):
        spec, G, D = self.spec, self.G, self.D
        if spec.update == "alternating":
            gg, _ = self.grads(t)
            self._set(G, gg)
            self.opt_g.step()
            _, gd = self.grads(t)
            self._set(D, gd)
            self.opt_d.step()
        else:
            gg, gd = self.grads(t)
            if spec.update == "extragradient":  # look ahead on a copy of the optimizers
                start = self._params()
                states = [copy.deepcopy(o.state_dict()) for o in (self.opt_g, self.opt_d)]
                self._set(G, gg)
                self._set(D, gd)
                self.opt_g.step()
                self.opt_d.step()
                gg, gd = self.grads(t)
                self._load(start)
                self.opt_g.load_state_dict(states[0])
                self.opt_d.load_state_dict(states[1])
            before = self._params()
            self._set(G, gg)
            self._set(D, gd)
            self.opt_g.step()
            self.opt_d.step()
            if spec.update == "optimistic":  # 2 u_t - u_{t-1}; decoupled decay once
                shrink = 1.0 - spec.lr_d * spec.weight_decay if spec.optimizer == "adam" and \
                    spec.weight_decay_mode == "decoupled" else 1.0
                after = self._params()
                u = [b - a for b, a in zip(before[:2], after[:2])]
                u += [b * shrink - a for b, a in zip(before[2:], after[2:])]
                prev = u if self.prev is None else self.prev
                self._load([a - ui + pi for a, ui, pi in zip(after, u, prev)])
                self.prev = u
        self.ema = self.ema_next
        for j in range(1, spec.d_steps):
            _, gd = self.grads(t, j)
            self._set(D, gd)
            self.opt_d.step()
            self.ema = self.ema_next


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
    specs = [resolve_spec("baseline", overrides={"seed": s, "steps": 200, "snapshot_every": 50})
             for s in range(3)]
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


@pytest.mark.parametrize("extra", [
    {"consensus": 0.3, "lecam": 0.5, "update": "optimistic", "r1": 1.0},
    {"update": "extragradient", "consensus": 0.1, "instance_noise": 0.2},
])
def test_stabilisers_keep_batch_invariance(extra):
    """Consensus (autograd), extragradient, optimistic and LeCam: seed s gives the same
    numbers alone or in a batch, bitwise."""
    specs = [resolve_spec("fixed", overrides={"seed": s, "steps": 120, **extra})
             for s in range(5)]
    batch = _run(specs)
    for i in (0, 3):
        assert torch.equal(_flat(batch, i), _flat(_run([specs[i]]), 0))


def test_stabiliser_state_survives_a_checkpoint():
    """LeCam's anchors and the optimistic update's previous steps are part of a checkpoint:
    stopping at step 70 and resuming gives the uninterrupted run's numbers."""
    spec = resolve_spec("baseline", overrides={"seed": 2, "steps": 140, "lecam": 0.5,
                                               "update": "optimistic"})
    with torch.inference_mode():
        straight = BatchTrainer([spec])
        straight.run(lambda s: None)
        first = BatchTrainer([spec])
        while first.step < 70:
            first.train_step()
        state = first.state_for(0)
        assert set(state) >= {"lecam_anchors", "optimistic_prev"}
        assert float(state["lecam_anchors"].abs().sum()) > 0
        resumed = BatchTrainer([spec])
        resumed.load_states([state])
        resumed.run(lambda s: None)
    assert torch.equal(resumed.g, straight.g) and torch.equal(resumed.d, straight.d)


def _run_mode(specs, mode):
    snaps = []
    with torch.inference_mode():
        BatchTrainer(specs, step_mode=mode).run(snaps.append)
    return snaps


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("fixed", {}),
        ("hinge", {"r1": 2.0, "d_steps": 2, "noise_scale": 0.5, "inner_batch": 2}),
        ("wgan-gp", {"r2": 0.5, "update": "simultaneous", "batch_size": 70}),
        ("lsgan", {"instance_noise": 0.3, "optimizer": "sgd", "momentum": 0.9}),
        ("baseline", {"update": "extragradient", "noise_scale": 0.5}),
        ("baseline", {"update": "optimistic", "lecam": 0.1, "consensus": 0.1}),
    ],
)
def test_tensor_step_mode_equals_eager(preset, extra):
    """The step a CUDA graph captures (scalars and chunk offsets read from device tensors,
    freezing always applied) gives the eager step's numbers, here run on the CPU."""
    specs = [resolve_spec(preset, overrides={"seed": s, "steps": 130, **extra}) for s in range(3)]
    eager, tensor = _run_mode(specs, "eager"), _run_mode(specs, "tensor")
    for i in range(3):
        assert torch.equal(_flat(tensor, i), _flat(eager, i))  # in fact bitwise on a CPU


def test_graph_mode_needs_cuda_and_unknown_modes_are_refused():
    spec = resolve_spec("fixed")
    with pytest.raises(ValueError):
        BatchTrainer([spec], step_mode="graph")
    with pytest.raises(ValueError):
        BatchTrainer([spec], step_mode="fast")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_agrees_with_cpu():
    """64 members, 600 steps: final parameters within 1e-5 of the CPU's, same verdicts, and a
    batch on CUDA still gives each seed's numbers alone."""
    specs = [resolve_spec("fixed", overrides={"seed": s, "steps": 600}) for s in range(64)]
    cpu = _run(specs)[-1]
    cuda_specs = [s.model_copy(update={"device": "cuda"}) for s in specs]
    graph = _run_mode(cuda_specs, "graph")[-1]
    eager = _run_mode(cuda_specs, "eager")[-1]
    real, tol = specs[0].real_value, specs[0].tolerance

    def converged(s):
        return s.g[:, 0].abs() + (s.g[:, 1] - real).abs() < tol

    for snap in (graph, eager):
        torch.testing.assert_close(snap.g, cpu.g, rtol=0, atol=1e-5)
        torch.testing.assert_close(snap.d, cpu.d, rtol=0, atol=1e-5)
        assert torch.equal(converged(snap), converged(cpu))
    alone = _run_mode([cuda_specs[5]], "graph")[-1]
    torch.testing.assert_close(alone.g[0], graph.g[5], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "extra",
    [{}, {"update": "optimistic", "lecam": 0.1}, {"noise_scale": 0.5, "d_steps": 2}],
)
def test_stacked_state_unstacks_to_each_runs_state(extra):
    """A batch checkpoint (one stacked dict) holds exactly every run's own checkpoint."""
    from pointgan_cli.engine.state import unstack_state

    specs = [resolve_spec("baseline", overrides={"seed": s, "steps": 120, **extra})
             for s in range(3)]
    with torch.inference_mode():
        tr = BatchTrainer(specs)
        tr.run(lambda snap: None)
        tr.g[1, 0] = math.nan
        tr.snapshot()  # run 1 diverges: alive and diverged_step differ between runs
        stacked = tr.stacked_state()
        for i in range(3):
            one, two = tr.state_for(i), unstack_state(stacked, i)
            assert _same(one, two)
    assert two["alive"] is True and unstack_state(stacked, 1)["alive"] is False


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("extra", [
    {"label_easing": 0.1, "fake_weight": 0.5},
    {"batch_size": 37, "loss": "hinge"},
])
def test_every_metric_of_a_member_is_the_same_alone_and_in_a_batch_of_64(extra):
    """Losses and probabilities too, not only the parameters: d_loss used to differ in the
    last bit between small and large batches (a (R, 1) column took the scalar loop for small R
    and the SIMD loop for large R)."""
    specs = [resolve_spec("baseline", overrides={"seed": s, "steps": 100, "snapshot_every": 50,
                                                 **extra}) for s in range(64)]
    batch = _run(specs)
    for i in (0, 5, 17, 63):
        assert torch.equal(_flat(batch, i), _flat(_run([specs[i]]), 0))

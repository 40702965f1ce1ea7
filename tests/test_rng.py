import torch

from pointgan_cli import rng

M = 0xFFFFFFFF


def mix32(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M
    x ^= x >> 15
    x = (x * 0x846CA68B) & M
    return x ^ (x >> 16)


def reference_bits(seed: int, stream: int, step: int, i: int) -> int:
    k = mix32((seed ^ 0x9E3779B9) & M)
    k = mix32(k ^ (stream * 0x632BE5AB & M))
    k = mix32(k ^ (step & M))
    return mix32(mix32((k + i * 0x9E3779B1) & M))


def test_hash_matches_pure_python_reference():
    seeds = torch.tensor([0, 1, 2**32 - 1, 123456789])
    steps = torch.tensor([0, 5, 2**31 + 7])
    got = rng.hash_bits(seeds, rng.STREAM_X, steps, 70)
    for a, s in enumerate(seeds.tolist()):
        for c, t in enumerate(steps.tolist()):
            for i in (0, 1, 63, 69):
                assert int(got[a, c, i]) == reference_bits(s, rng.STREAM_X, t, i)


def test_each_run_stream_is_independent_of_the_batch():
    steps = torch.arange(64)
    alone = rng.uniform(torch.tensor([5]), rng.STREAM_X, steps, 64, torch.float32)
    batch = rng.uniform(torch.tensor([1, 5, 9]), rng.STREAM_X, steps, 64, torch.float32)
    assert torch.equal(alone[0], batch[1])
    assert not torch.equal(batch[0], batch[1])


def test_uniform_and_normal_statistics():
    seeds = torch.arange(4)
    u = rng.uniform(seeds, rng.STREAM_X, torch.arange(64), 256, torch.float64)
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert abs(float(u.mean()) - 0.5) < 0.01
    z = rng.normal_pairs(seeds, rng.STREAM_NOISE, torch.arange(64), 128, torch.float64)
    assert torch.isfinite(z).all()
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1.0) < 0.02
    corr = torch.corrcoef(torch.stack([z[..., 0].flatten(), z[..., 1].flatten()]))[0, 1]
    assert abs(float(corr)) < 0.02

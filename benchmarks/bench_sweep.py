"""What a sweep costs: each engine alone beside the whole ``pointgan sweep`` process on both.

Run by hand::

    python benchmarks/bench_sweep.py                       # CPU, the reference sweep
    python benchmarks/bench_sweep.py --members 1024 --steps 1500 --rss 256,1024
    python benchmarks/bench_sweep.py --rounds 3            # a shared machine: alternated
    python benchmarks/bench_sweep.py --whole-only --rounds 4   # only the two whole sweeps
    python benchmarks/bench_sweep.py --engine-only --rounds 10 # only the engines alone
    python benchmarks/bench_sweep.py --device cuda --members 16384 --engine-runs 131072

Measured in one run, so the figures share the machine's state:

- engine only: the fused kernel (``FusedTrainer.advance``, one thread per worker process) and
  the torch engine (``BatchTrainer.train_step``) on ``fixed`` runs (batch 64, inner batch 8),
  set-up excluded; each also per CPU-second of its workers (what a loaded machine cannot take
  from it). CPU: the members split over two worker processes (both cores), one thread each.
  Then both again *paired*: each worker holds both engines on the same runs and alternates
  them every tenth of the steps, so the machine's drifting load falls on both alike (the ratio
  to read on a shared machine; each engine alone takes seconds, over which the load moves).
  Then the fused engine as ``pointgan sweep`` runs it: one process with a thread per core
  (``FusedTrainer.run``, batches of 256 one after another, snapshots recorded, no files).
  CUDA: one process, ``--engine-runs`` runs in one batch (the captured step), timed between two
  synchronisations; peak GPU memory per run.
- whole process, once per engine (``--engine fused`` and ``--engine torch``):
  ``python -m pointgan_cli sweep --preset fixed --seeds 0-(N-1) --steps S
  --batch-size 64 --inner-batch 8 --out TMP --quiet`` as a user runs it, from start-up to exit
  (imports, workers, the chart process, files, report); its peak RSS (the process tree: the
  sweep, its workers and its chart process, summed, sampled every 100 ms) and
  the bytes it wrote per member.

Targets (fused engine): >= 4x the torch engine, >= 1.5M run-steps/s engine only, the whole
sweep >= 2.5x the torch engine's whole sweep with peak RSS <= 300 MiB. Earlier targets: CPU
whole process >= 400,000 run-steps/s and >= 75% of the engine-only
figure, <= 4 KB per member, peak RSS sub-linear in members; CUDA engine >= 20M run-steps/s at
R >= 131,072 and <= 64 KB of GPU memory per run, the whole CUDA sweep of 16,384 members >= 10x
the same machine's all-core CPU sweep. (And, as before, the engine >= 100x the naive
``nn.Module`` loop of ``naive.py``.)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from naive import naive_us_per_step

from pointgan_cli.engine.batching import CPU_BATCH
from pointgan_cli.engine.trainer import BatchTrainer
from pointgan_cli.spec import resolve_spec
from pointgan_cli.training.runtime import keep_freed_memory

ROOT = Path(__file__).resolve().parents[1]
PAIRED_SLICES = 10  # ``paired_cpu``: each engine's share of a round, in alternating slices


def _specs(runs: int, offset: int = 0, device: str = "cpu", steps: int = 100_000):
    return [resolve_spec("fixed", overrides={"seed": offset + s, "batch_size": 64,
                                             "inner_batch": 8, "steps": steps,
                                             "device": device})
            for s in range(runs)]


def fused_seconds(runs: int, steps: int, offset: int = 0) -> tuple[float, float]:
    """(wall, CPU) seconds for ``steps`` fused steps of ``runs`` runs in one batch, on the
    calling thread (the serial kernel a sweep's worker uses)."""
    os.environ["POINTGAN_FUSED_THREADS"] = "1"
    from pointgan_cli.engine.fused.trainer import FusedTrainer

    tr = FusedTrainer(_specs(runs, offset))
    tr.advance(10)
    t, c = time.perf_counter(), time.process_time()
    tr.advance(10 + steps)
    return time.perf_counter() - t, time.process_time() - c


def _jobs(members: int, workers: int) -> list[tuple[list[int], int]]:
    """Each worker's batches (at most ``CPU_BATCH`` runs, as a sweep cuts them) and its first
    run's offset: the members split evenly over the workers."""
    per = -(-members // workers)
    jobs = []
    for k in range(workers):
        size = min(per, members - k * per)
        jobs.append(([min(CPU_BATCH, size - j) for j in range(0, size, CPU_BATCH)], k * per))
    return jobs


def fused_cpu(members: int, steps: int, workers: int) -> tuple[float, float]:
    """(run-steps/s, run-steps per CPU-second) of the fused engine, ``members`` runs split
    over ``workers`` processes in batches of ``CPU_BATCH``; the slowest worker sets the first
    figure."""
    jobs = _jobs(members, workers)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(fused_seconds, [1] * workers, [1] * workers))  # start and load
        secs = list(pool.map(_fused_worker, jobs, [steps] * len(jobs)))
    return members * steps / max(w for w, _ in secs), members * steps / sum(c for _, c in secs)


def fused_threads(members: int, steps: int) -> tuple[float, float]:
    """(run-steps/s, run-steps per CPU-second) of the fused engine as ``pointgan sweep`` runs
    it: one process, batches of ``CPU_BATCH`` one after another, each trained by
    ``FusedTrainer.run`` with the kernel's threads on every core (snapshots included, no
    files). A fresh process (spawned: this one has forked workers and imported torch)."""
    import multiprocessing

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_fused_threads_in_process, members, steps).result()


def _fused_threads_in_process(members: int, steps: int) -> tuple[float, float]:
    os.environ.pop("POINTGAN_FUSED_THREADS", None)
    from pointgan_cli.engine.fused.trainer import FusedTrainer

    FusedTrainer(_specs(CPU_BATCH, steps=steps))  # load the kernel before timing
    t, c = time.perf_counter(), time.process_time()
    for lo in range(0, members, CPU_BATCH):
        tr = FusedTrainer(_specs(min(CPU_BATCH, members - lo), lo, steps=steps))
        tr.run(lambda snap: None, with_losses=False)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return members * steps / wall, members * steps / cpu


def _fused_worker(job, steps: int) -> tuple[float, float]:
    chunks, offset = job
    wall = cpu = 0.0
    for c in chunks:
        w, u = fused_seconds(c, steps, offset)
        wall, cpu, offset = wall + w, cpu + u, offset + c
    return wall, cpu


def engine_seconds(runs: int, steps: int, offset: int = 0) -> float:
    """Seconds for ``steps`` CPU steps of ``runs`` runs in one batch (one thread, the
    allocator settings a sweep's worker uses)."""
    torch.set_num_threads(1)
    keep_freed_memory()
    with torch.inference_mode():
        tr = BatchTrainer(_specs(runs, offset))
        for _ in range(10):
            tr.train_step()
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            tr.train_step()
        _CPU[0] += time.process_time() - c
        return time.perf_counter() - t


_CPU = [0.0]  # a worker's CPU seconds in engine_seconds so far


def engine_cpu(members: int, steps: int, workers: int) -> tuple[float, float]:
    """(run-steps/s, run-steps per CPU-second) of ``members`` runs split over ``workers``
    processes, each timing itself (set-up excluded); the slowest sets the first figure.
    Batches of at most ``CPU_BATCH``, as a sweep cuts them."""
    jobs = _jobs(members, workers)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(engine_seconds, [1] * workers, [1] * workers))  # start every worker
        secs = list(pool.map(_worker_seconds, jobs, [steps] * len(jobs)))
    return members * steps / max(w for w, _ in secs), members * steps / sum(u for _, u in secs)


def _worker_seconds(job, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds of a worker's batches."""
    chunks, offset = job
    total, start = 0.0, _CPU[0]
    for c in chunks:
        total += engine_seconds(c, steps, offset)
        offset += c
    return total, _CPU[0] - start


def paired_cpu(members: int, steps: int, workers: int, slices: int) -> tuple[float, float]:
    """(wall, per CPU-second) ratios fused / torch with both engines in each worker process,
    on the same runs, alternating every ``steps // slices`` steps (which goes first
    alternates too): a shared machine's load drifts over the seconds one engine alone takes,
    and this pairs the two within a fraction of a second. Batches as ``engine_cpu``."""
    jobs = _jobs(members, workers)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(fused_seconds, [1] * workers, [1] * workers))  # start and load
        secs = list(pool.map(_paired_worker, jobs, [steps] * len(jobs), [slices] * len(jobs)))
    fw, tw = max(s[0] for s in secs), max(s[2] for s in secs)
    fc, tc = sum(s[1] for s in secs), sum(s[3] for s in secs)
    return tw / fw, tc / fc


def _paired_worker(job, steps: int, slices: int) -> tuple[float, float, float, float]:
    """(fused wall, fused CPU, torch wall, torch CPU) seconds of a worker's batches."""
    os.environ["POINTGAN_FUSED_THREADS"] = "1"
    from pointgan_cli.engine.fused.trainer import FusedTrainer

    torch.set_num_threads(1)
    keep_freed_memory()
    chunks, offset = job
    out = [0.0, 0.0, 0.0, 0.0]
    each = max(1, steps // slices)
    with torch.inference_mode():
        for c in chunks:
            specs = _specs(c, offset)
            offset += c
            fused, ref = FusedTrainer(specs), BatchTrainer(specs)
            fused.advance(10)
            for _ in range(10):
                ref.train_step()
            for k in range(slices):
                for name in (("fused", "torch") if k % 2 == 0 else ("torch", "fused")):
                    t, u = time.perf_counter(), time.process_time()
                    if name == "fused":
                        fused.advance(fused.step + each)
                    else:
                        for _ in range(each):
                            ref.train_step()
                    i = 0 if name == "fused" else 2
                    out[i] += time.perf_counter() - t
                    out[i + 1] += time.process_time() - u
    return out[0], out[1], out[2], out[3]


def engine_cuda(runs: int, steps: int) -> tuple[float, float]:
    """(run-steps/s, peak bytes per run) of ``runs`` CUDA runs in one captured batch."""
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.inference_mode():
        tr = BatchTrainer(_specs(runs, device="cuda"))
        for _ in range(10):
            tr.train_step()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            tr.train_step()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() - base
    return runs * steps / dt, peak / runs


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        p = int(d)
        children.setdefault(int(fields[1]), []).append(p)
        rss[p] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def precompile() -> None:
    """Write pointgan's bytecode before timing whole processes, as an installed package has
    it: with PYTHONDONTWRITEBYTECODE set and no ``__pycache__``, each timed process would
    spend ~0.14 s compiling pointgan's sources, which no user's install does."""
    import compileall

    compileall.compile_dir(str(ROOT / "pointgan_cli"), quiet=1)


def whole_sweep(members: int, steps: int, device: str, extra: list[str],
                keep: Path | None = None) -> dict:
    """Run the ``pointgan sweep`` process; wall seconds, peak tree RSS, bytes per member.
    ``keep``: write the sweep there (replacing an earlier one) and leave it."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = keep if keep is not None else Path(tmp) / "sw"
        if keep is not None:
            extra = [*extra, "--force"]
        cmd = [sys.executable, "-m", "pointgan_cli", "sweep", "--preset", "fixed", "--seeds",
               f"0-{members - 1}", "--steps", str(steps), "--batch-size", "64",
               "--inner-batch", "8", "--device", device, "--out", str(out), "--quiet", *extra]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg")
        peak = [0]
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.1)  # sampling walks /proc: more often would slow the sweep

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        _, err = proc.communicate()
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        watcher.join()
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed ({proc.returncode}): {err.decode()[-500:]}")
        files = [p for p in out.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        store = sum(p.stat().st_size for p in (out / "batches").glob("*"))
    return {"wall": wall, "rate": members * steps / wall, "rss": peak[0], "cpu": cpu,
            "bytes_per_member": size / members, "store_per_member": store / members,
            "files": len(files)}


def tally(what: str, ratios: list[float], line: float) -> str:
    """Every round's ratio against its target in one line: the median, the range, and how
    many rounds reached it (a shared machine's rounds scatter; each one is reported)."""
    r = sorted(ratios)
    mid = len(r) // 2
    median = r[mid] if len(r) % 2 else (r[mid - 1] + r[mid]) / 2
    met = sum(x >= line for x in r)
    return (f"{what} over {len(r)} rounds: median {median:.2f}x (from {r[0]:.2f}x to "
            f"{r[-1]:.2f}x); {met} of {len(r)} rounds at >= {line:g}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="CPU worker processes for the engine-only figure [CPU count]")
    ap.add_argument("--engine-steps", type=int, default=1500,
                    help="steps timed for the engine-only figure")
    ap.add_argument("--engine-runs", type=int, default=131072,
                    help="CUDA: runs in the engine-only batch")
    ap.add_argument("--rounds", type=int, default=1,
                    help="CPU: measure each engine (and each whole sweep) this many times, "
                         "alternating, so a shared machine's load falls on both alike")
    ap.add_argument("--rss", default="",
                    help="member counts (comma-separated) for a peak-RSS scaling table")
    ap.add_argument("--sweep-arg", action="append", default=[],
                    help="extra argument for pointgan sweep (repeatable)")
    ap.add_argument("--whole-only", action="store_true",
                    help="time only the whole sweeps (both engines), not the engines alone")
    ap.add_argument("--engine-only", action="store_true",
                    help="time only the engines alone (both), not the whole sweeps")
    ap.add_argument("--keep", type=Path, default=None,
                    help="write the timed sweep there and keep it (to compare devices)")
    args = ap.parse_args()
    precompile()
    print(f"torch {torch.__version__}; {os.cpu_count()} CPU cores; load average "
          f"{os.getloadavg()[0]:.2f}; fixed, batch 64, inner batch 8", flush=True)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda needs a CUDA GPU (torch.cuda.is_available() is False)")
    if args.device == "cuda":
        rate, per_run = engine_cuda(args.engine_runs, args.engine_steps)
        print(f"engine only (CUDA, R={args.engine_runs:,}) : {rate:14,.0f} run-steps/s; "
              f"peak GPU memory {per_run / 1024:.1f} KB per run", flush=True)
        engine = rate
    elif not args.whole_only:
        torch.set_num_threads(1)
        naive = 1e6 / naive_us_per_step(_specs(1)[0], 300)
        print(f"naive nn.Module loop (1 run)  : {naive:14,.0f} run-steps/s")
        walls, per_cpus, paired_walls, paired_cpus = [], [], [], []
        for k in range(args.rounds):  # alternated, so both engines see the same load
            fused, fused_per_cpu = fused_cpu(args.members, args.engine_steps, args.workers)
            engine, engine_per_cpu = engine_cpu(args.members, args.engine_steps, args.workers)
            head = f"round {k + 1}: " if args.rounds > 1 else ""
            print(f"{head}torch engine ({args.workers} processes)  : {engine:14,.0f} "
                  f"run-steps/s ({engine / naive:.0f}x naive; {engine_per_cpu:,.0f} per "
                  "CPU-second)")
            print(f"{head}fused engine ({args.workers} processes)  : {fused:14,.0f} "
                  f"run-steps/s ({fused / engine:.1f}x torch, {fused / naive:.0f}x naive; "
                  f"{fused_per_cpu:,.0f} per CPU-second, "
                  f"{fused_per_cpu / engine_per_cpu:.1f}x torch's)", flush=True)
            walls.append(fused / engine)
            per_cpus.append(fused_per_cpu / engine_per_cpu)
            pw, pc = paired_cpu(args.members, args.engine_steps, args.workers, PAIRED_SLICES)
            paired_walls.append(pw)
            paired_cpus.append(pc)
            print(f"{head}paired, both engines in each worker, alternating every "
                  f"{args.engine_steps // PAIRED_SLICES} steps: fused / torch {pw:.2f}x wall, "
                  f"{pc:.2f}x per CPU-second", flush=True)
            threads, threads_per_cpu = fused_threads(args.members, args.engine_steps)
            print(f"{head}fused engine (1 process, {os.cpu_count()} threads, as a sweep runs it):"
                  f" {threads:12,.0f} run-steps/s ({threads / engine:.1f}x torch; "
                  f"{threads_per_cpu:,.0f} per CPU-second)", flush=True)
        if args.rounds > 1:
            print(tally("engine only, fused / torch, wall", walls, 4.0))
            print(tally("engine only, fused / torch, per CPU-second", per_cpus, 4.0))
            print(tally("engine only, paired, fused / torch, wall", paired_walls, 4.0))
            print(tally("engine only, paired, fused / torch, per CPU-second", paired_cpus, 4.0))
    wholes = []
    for _ in range(0 if args.engine_only else args.rounds):  # the whole sweeps alternated too
        rates, cpus = {}, {}
        for name in ("fused", "torch"):
            extra = [*args.sweep_arg, "--engine", name]
            w = whole_sweep(args.members, args.steps, args.device, extra,
                            args.keep if name == "fused" else None)
            rates[name], cpus[name] = w["rate"], w["cpu"]
            print(f"whole `pointgan sweep --engine {name}` ({args.members} x {args.steps}): "
                  f"{w['rate']:12,.0f} run-steps/s ({w['wall']:.2f} s; {w['cpu']:.2f} "
                  "CPU-seconds of the process tree)")
            print(f"  files {w['files']}, {w['bytes_per_member']:,.0f} B per member "
                  f"({w['store_per_member']:,.0f} in batches/), peak RSS "
                  f"{w['rss'] / 2**20:,.0f} MiB", flush=True)
        print(f"whole sweep, fused / torch: {rates['fused'] / rates['torch']:.2f}x wall, "
              f"{cpus['torch'] / cpus['fused']:.2f}x in CPU-seconds", flush=True)
        wholes.append(rates["fused"] / rates["torch"])
    if len(wholes) > 1:
        print(tally("whole sweep, fused / torch, wall", wholes, 2.5))
    if args.rss:
        print("peak RSS of the whole process tree by members:")
        for n in (int(x) for x in args.rss.split(",")):
            r = whole_sweep(n, args.steps, args.device, [*args.sweep_arg, "--engine", "fused"])
            print(f"  {n:7d} members: {r['rss'] / 2**20:8,.0f} MiB "
                  f"({r['rss'] / n / 1024:8.1f} KB per member), {r['wall']:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

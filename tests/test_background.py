"""``store.background``: a sweep batch's checkpoints written on a thread of their own, in the
order given, every one landed before ``wait``/``close`` return, nothing written after a
failure."""

from __future__ import annotations

import threading
import time

import pytest

from pointgan_cli.store.background import BackgroundWrites


def test_writes_run_in_order_on_one_other_thread_and_wait_waits_for_them():
    done: list[tuple[int, str]] = []

    def write(i: int, delay: float):
        def run():
            time.sleep(delay)
            done.append((i, threading.current_thread().name))
        return run

    with BackgroundWrites() as writes:
        for i in range(6):
            writes.submit(write(i, 0.02 if i % 2 else 0.0))  # a slow one never lets the next pass
        writes.wait()
        assert [i for i, _ in done] == list(range(6))
    names = {name for _, name in done}
    assert len(names) == 1 and names != {threading.current_thread().name}
    assert not [t for t in threading.enumerate() if t.name.startswith("pointgan-writes")]


def test_a_failed_write_stops_the_writes_after_it_and_is_raised():
    done: list[int] = []

    def fail():
        time.sleep(0.02)
        raise OSError(28, "No space left on device")

    writes = BackgroundWrites()
    writes.submit(lambda: done.append(1))
    writes.submit(fail)
    writes.submit(lambda: done.append(3))  # a state after metrics that failed: never written
    with pytest.raises(OSError, match="No space"):
        writes.wait()
    with pytest.raises(OSError, match="No space"):
        writes.submit(lambda: done.append(4))
    with pytest.raises(OSError, match="No space"):
        writes.close()
    assert done == [1]
    assert not [t for t in threading.enumerate() if t.name.startswith("pointgan-writes")]


def test_leaving_with_an_error_lands_the_queued_writes_and_keeps_that_error():
    done: list[int] = []

    def slow():
        time.sleep(0.05)
        done.append(1)

    with pytest.raises(KeyError), BackgroundWrites() as writes:
        writes.submit(slow)
        raise KeyError("interrupted")
    assert done == [1]  # the checkpoint queued before the interruption is on disk


def test_a_writer_that_never_wrote_starts_no_thread():
    before = threading.active_count()
    with BackgroundWrites() as writes:
        writes.wait()
        assert threading.active_count() == before

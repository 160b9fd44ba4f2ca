"""How many threads a question's query embedding takes: the cores no other task is running on."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from embeddings import cpu


def _loadavg(tmp_path, running: int) -> str:
    path = tmp_path / "loadavg"
    path.write_text(f"2.27 1.62 1.35 {running}/86 30732\n", encoding="ascii")
    return str(path)


def test_runnable_tasks_reads_the_kernels_running_count(tmp_path):
    assert cpu.runnable_tasks(_loadavg(tmp_path, 3)) == 3


def test_without_a_readable_loadavg_every_usable_core_is_taken(tmp_path):
    assert cpu.runnable_tasks(str(tmp_path / "absent")) is None
    assert cpu.idle_cores(str(tmp_path / "absent")) == cpu.usable_cores()
    (tmp_path / "garbled").write_text("not a loadavg", encoding="ascii")
    assert cpu.idle_cores(str(tmp_path / "garbled")) == cpu.usable_cores()


def test_idle_cores_leave_out_the_tasks_running_besides_the_caller(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 4)
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 4)
    assert cpu.idle_cores(_loadavg(tmp_path, 1)) == 4  # only the caller runs
    assert cpu.idle_cores(_loadavg(tmp_path, 2)) == 3
    assert cpu.idle_cores(_loadavg(tmp_path, 9)) == 1  # never fewer than one


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


@pytest.mark.skipif(cpu.runnable_tasks() is None, reason="needs /proc/loadavg (Linux)")
def test_a_query_takes_one_thread_while_other_processes_hold_every_core():
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(cpu.usable_cores())]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.3)
        assert cpu.idle_cores() == 1
    finally:
        stop.set()
        for p in spinners:
            p.join(10)

"""How many cores are free right now, for a native model that splits one short encode across threads.

A short query split over every core waits at each layer's barrier for the slowest thread; when another process
(an ingest, a test run, a second worker) holds a core, that thread is descheduled and the query takes a
scheduler slice per barrier: 0.9–1.7 s instead of 27 ms on 2 cores (BENCHMARKS.md "Query embedding on a busy
machine"). One thread never waits on another, so a query takes as many threads as there are idle cores.
"""

from __future__ import annotations

import os

LOADAVG = "/proc/loadavg"


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def runnable_tasks(path: str = LOADAVG) -> int | None:
    """Tasks the kernel has running or ready to run at this instant, the caller included (the fourth field of
    /proc/loadavg, "running/total"); None where there is no such file."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def idle_cores(path: str = LOADAVG) -> int:
    """Threads a short encode can use without waiting on a busy core: the machine's cores less the tasks
    running besides the caller, within this process's cores, at least 1. Without /proc: every usable core."""
    usable = usable_cores()
    running = runnable_tasks(path)
    if running is None:
        return usable
    others = max(0, running - 1)
    return max(1, min(usable, (os.cpu_count() or usable) - others))

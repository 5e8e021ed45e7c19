"""What both benchmarks measure the same way: percentiles, CPU shares and memory, from /proc.

``bench/chat.py`` (the stack through its gateway) and ``bench/search.py`` (search in one process)
report latency percentiles, who used the machine's CPUs during a phase (so a figure taken on a busy
machine says so), and resident memory. Linux only: the numbers come from /proc.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def percentiles(samples: Sequence[float], digits: int = 1) -> dict[str, float]:
    """n, p50/p95/p99, mean and max of millisecond samples, rounded to ``digits`` for the report."""
    if not len(samples):
        return {"n": 0}
    values = np.asarray(samples, dtype=np.float64)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(values, 50)), digits),
        "p95": round(float(np.percentile(values, 95)), digits),
        "p99": round(float(np.percentile(values, 99)), digits),
        "mean": round(float(values.mean()), digits),
        "max": round(float(values.max()), digits),
    }


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc), so forked workers count too."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def status_kb(pid: int | str, key: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time these processes have used."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU time all processes of the machine have used since boot (``/proc/stat``), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CpuMonitor:
    """Who used the machine's CPUs during a phase: this process, the watched processes, the rest.

    On a shared machine another job competing for the same cores inflates latencies; the benchmarks
    record it instead of silently reporting slow figures.
    """

    def __init__(self, watched: Iterable[int] = ()) -> None:
        self.cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self._watched = list(watched)
        self._start = (time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds(), cpu_seconds(self._watched))

    def stop(self) -> dict[str, float]:
        wall, busy, own = time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds()
        watched = cpu_seconds(self._watched) - self._start[3]
        elapsed = max(wall - self._start[0], 1e-9)
        own_cpu = own - self._start[2]
        other = max(0.0, busy - self._start[1] - own_cpu - watched)
        capacity = elapsed * self.cpus
        return {
            "wall_s": round(elapsed, 1),
            "own_cpu_share": round(own_cpu / capacity, 3),
            "watched_cpu_share": round(watched / capacity, 3),
            "other_processes_cpu_share": round(other / capacity, 3),
            "loadavg_1min": round(os.getloadavg()[0], 2),
        }


# --- one process (the search benchmark) --------------------------------------------------------

_REPO = Path(__file__).resolve().parent.parent
_PROFILE_HIDDEN = ("torch/", "transformers/", "sentence_transformers/", "tqdm/", "bench/search.py")


def memory_mb() -> dict[str, float]:
    """Current and peak resident set size of this process (MB)."""
    fields: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    peak = fields.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"rss_mb": round(fields.get("VmRSS", peak), 1), "peak_rss_mb": round(peak, 1)}


def wait_for_quiet(limit_s: float, label: str, threshold: float = 0.05) -> float:
    """Wait (up to ``limit_s``) until other processes use under ``threshold`` of the CPUs for 3 s."""
    started = time.perf_counter()
    announced = False
    while time.perf_counter() - started < limit_s:
        monitor = CpuMonitor()
        time.sleep(3)
        share = monitor.stop()["other_processes_cpu_share"]
        if share < threshold:
            break
        if not announced:
            print(f"{label}: other processes use {share:.0%} of the CPUs; waiting for a quiet machine", file=sys.stderr)
            announced = True
    return round(time.perf_counter() - started, 1)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5), so a peak belongs to one size."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def profile(action: Callable[[], object], operations: int, top: int = 18) -> list[dict[str, Any]]:
    """The functions with the most cumulative time under ``action``, in ms per operation."""
    profiler = cProfile.Profile()
    profiler.enable()
    action()
    profiler.disable()
    rows: list[dict[str, Any]] = []
    for name, entry in pstats.Stats(profiler).get_stats_profile().func_profiles.items():
        where = entry.file_name
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        elif where.startswith(str(_REPO)):
            where = where[len(str(_REPO)) + 1 :]
        elif "/lib/python3" in where:
            where = where.split("/lib/", 1)[1].split("/", 1)[1]
        # The model's internals are summed up by knowledge/embedding.py(encode).
        if where.startswith(_PROFILE_HIDDEN) or "torch" in name or "cProfile" in where or name == "<lambda>":
            continue
        rows.append(
            {
                "function": f"{where}:{entry.line_number}({name})" if where != "~" else name,
                "calls_per_op": round(int(entry.ncalls.split("/")[0]) / operations, 1),
                "cum_ms_per_op": round(entry.cumtime * 1000 / operations, 2),
                "own_ms_per_op": round(entry.tottime * 1000 / operations, 2),
            }
        )
    rows.sort(key=lambda row: -float(row["cum_ms_per_op"]))
    return rows[:top]

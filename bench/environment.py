"""What a benchmark result was measured on: the commit, uncommitted changes and the machine.

Both benchmarks (``bench/chat.py``, ``bench/search.py``) store this next to their figures, so a number
in ``bench/results/`` can always be traced to the code and the CPU that produced it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    """Output of one git command in the repository, or "" when git is missing or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def engine_version(*paths: str) -> dict[str, Any]:
    """The commit measured, and the uncommitted changes under ``paths`` (the whole tree when empty)."""
    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "uncommitted": git("status", "--porcelain", "--", *paths).splitlines(),
    }


def machine_info() -> dict[str, Any]:
    """CPU count and model, platform and Python version."""
    cpu_model = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu_model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }

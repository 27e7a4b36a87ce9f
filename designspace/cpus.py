"""The CPUs this process may use, and how many torch threads a job could take of them.

Kept apart from cpu_layout (which measures layouts by running training jobs) so that the
training code can size its threads without importing the probe that trains.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def available_cpus() -> int:
    """The CPUs this process may use (a container's or taskset's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def thread_counts(cpus: int) -> list[int]:
    """Candidate threads per job: 1, the powers of two below `cpus`, and `cpus`."""
    return sorted({1, cpus} | {2**k for k in range(1, cpus.bit_length()) if 2**k < cpus})


def cpu_model() -> str:
    """The CPU's marketing name (Linux), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

"""Peak resident memory of the current process, in MB."""

from __future__ import annotations

import platform
import resource

__all__ = ["peak_rss_mb"]


def peak_rss_mb(*, since_exec: bool = False) -> float:
    """Peak resident set size of this process (MB).

    Parameters
    ----------
    since_exec : bool, default: False
        False: ``ru_maxrss``, the peak over the whole life of the process. It survives ``execve``, so in a
        spawned process it also counts the memory of the parent it was forked from.
        True: the peak of the current process image only (Linux's ``VmHWM``, reset by ``execve``): what a
        spawned worker used itself. Where ``/proc`` is missing (macOS), falls back to ``ru_maxrss``.

    Returns
    -------
    float
    """
    if since_exec:
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return float(line.split()[1]) / 1024.0  # kB
        except OSError:
            pass
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1024.0 ** 2) if platform.system() == "Darwin" else usage / 1024.0  # bytes on macOS, kB on Linux

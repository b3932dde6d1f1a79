"""Peak resident memory of the current process (and of its children while a block runs), in MB."""

from __future__ import annotations

import platform
import resource

__all__ = ["peak_rss_mb", "PeakTreeMemory"]


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


class PeakTreeMemory:
    """Context manager: peak resident memory of this process and all its children while the block runs (MB).

    A background thread sums the resident set size of the process and of its children (recursively: the
    workers of ``n_jobs``, a sorter's subprocesses) every ``interval_s`` seconds. Pages shared between a
    forked worker and its parent count in each, so with forked workers the figure is an upper bound.

    Parameters
    ----------
    interval_s : float, default: 0.1

    Examples
    --------
    >>> with PeakTreeMemory() as memory:
    ...     run_sorter(...)
    >>> memory.peak_mb, memory.peak_mb - memory.start_mb  # the peak, and what the block added to the start

    Attributes
    ----------
    start_mb, peak_mb : float
        Memory of the process tree when the block started, and its peak during the block.
    """

    def __init__(self, interval_s: float = 0.1):
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = float(interval_s)
        self.peak_mb = 0.0
        self.start_mb = 0.0
        self._stop = None
        self._thread = None

    def _sample(self) -> float:
        import psutil

        process = psutil.Process()
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):  # ended between listing and reading
                pass
        return total / 1024.0 ** 2

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._sample())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakTreeMemory":
        import threading

        self.start_mb = self.peak_mb = self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="PeakTreeMemory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._sample())

"""Peak memory of a process."""

from si_amortized.evaluation.memory import peak_rss_mb


def test_peak_memory_of_the_process_covers_its_current_image():
    # the kernel updates the two counters at different moments: they may differ by a fraction of a MB
    # (measured: 399.31 against 399.46)
    assert peak_rss_mb() + 2.0 >= peak_rss_mb(since_exec=True) > 0


def _hold_memory(megabytes: int, seconds: float) -> None:
    import time

    import numpy as np

    block = np.ones(megabytes * 1024 * 1024 // 8)  # pages touched: resident
    time.sleep(seconds)
    del block


def test_peak_tree_memory_sees_a_child_process_and_the_block_itself():
    import multiprocessing

    import pytest

    from si_amortized.evaluation.memory import PeakTreeMemory

    with PeakTreeMemory(interval_s=0.02) as memory:
        child = multiprocessing.get_context("spawn").Process(target=_hold_memory, args=(300, 1.5))
        child.start()
        child.join()
    assert child.exitcode == 0
    # the child's 300 MB array (plus its interpreter) is seen, although it is gone when the block ends
    assert memory.peak_mb - memory.start_mb > 250
    with PeakTreeMemory(interval_s=0.02) as quiet:
        pass
    assert quiet.peak_mb - quiet.start_mb < 50
    with pytest.raises(ValueError, match="interval_s"):
        PeakTreeMemory(interval_s=0)

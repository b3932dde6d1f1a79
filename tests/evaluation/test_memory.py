"""Peak memory of a process."""

from si_amortized.evaluation.memory import peak_rss_mb


def test_peak_memory_of_the_process_covers_its_current_image():
    assert peak_rss_mb() >= peak_rss_mb(since_exec=True) > 0

"""``run_benchmark``: scenarios -> evaluations (locally or on Dask) -> the report folder."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path

from ..sorters import LocationSorter
from .config import BenchmarkConfig
from .evaluate import count_steps, evaluate_scenario
from .memory import peak_rss_mb
from .report import package_versions, write_report
from .scenarios import Scenario, get_scenarios


class _Progress:
    """A tqdm bar advanced by step descriptions."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="si-amortized benchmark", unit="step")
        self._started = False

    def __call__(self, description: str):
        if self.bar is None:
            return
        if self._started:
            self.bar.update(1)
        self._started = True
        self.bar.set_postfix_str(description[:70])

    def close(self):
        if self.bar is not None:
            if self._started:
                self.bar.update(1)
            self.bar.close()


def _evaluate_task(scenario: Scenario, config: BenchmarkConfig, work_folder: str) -> dict:
    """One Dask task: a scenario evaluated in the worker, results returned."""
    import si_amortized  # noqa: F401  (registers "vae" and "location_sorter" in the worker)

    return evaluate_scenario(scenario, config, work_folder)


def _evaluate_all(resolved, config, work, use_dask, scheduler, n_workers, progress, wall) -> list[dict]:
    if use_dask:
        from .distributed import map_dask

        t0 = time.perf_counter()
        results = map_dask(_evaluate_task, resolved, scheduler=scheduler, n_workers=n_workers, progress=progress,
                           config=config, work_folder=str(work))
        wall["scenarios (dask)"] = time.perf_counter() - t0
    else:
        bar = _Progress(sum(count_steps(config) for _ in resolved), progress)
        results = []
        try:
            for scenario in resolved:
                results.append(evaluate_scenario(scenario, config, work, progress=bar))
        finally:
            bar.close()

    return results


def run_benchmark(
    scenarios: str | list[str] | list[Scenario],
    output,
    *,
    config: BenchmarkConfig | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
    command: str | None = None,
) -> Path:
    """Run the benchmark and write the report folder.

    Parameters
    ----------
    scenarios : str | list of str | list of Scenario
        Scenario or group names (``"sqmea-10uv"``, ``"sqmea"``, ``"np64"``, ``"all"``, comma-separated), sized
        by ``config.size``; or :class:`Scenario` objects used as they are.
    output : str | Path
        Report folder (``report.md``, ``figures/``, ``results.json``; the sorter studies in ``work/``).
    config : BenchmarkConfig | None, default: None
        None: ``BenchmarkConfig()`` (quick).
    dask : bool, default: False
        Evaluate the scenarios as Dask tasks (a ``LocalCluster`` of ``n_workers``, or ``scheduler``).
    scheduler : str | None, default: None
        Address of a Dask scheduler (implies ``dask``).
    n_workers : int, default: 2
    progress : bool, default: True
        Progress bars.
    command : str | None, default: None
        Command line written in the report (default: this process's).

    Returns
    -------
    Path
        The report's Markdown page.
    """
    import si_amortized  # noqa: F401  (registers "vae" and "location_sorter")

    config = config or BenchmarkConfig()
    if isinstance(scenarios, (str, Scenario)):
        scenarios = [scenarios]
    resolved: list[Scenario] = []
    for s in scenarios:
        resolved += [s] if isinstance(s, Scenario) else get_scenarios(s, size=config.size)
    output = Path(output)
    work = output / "work"
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    wall = {}

    from spikeinterface.core import get_global_job_kwargs, set_global_job_kwargs

    global_job_kwargs = get_global_job_kwargs()
    if progress:  # one bar for the benchmark, none for each SpikeInterface job inside it
        set_global_job_kwargs(progress_bar=False)
    try:
        results = _evaluate_all(resolved, config, work, dask or scheduler is not None, scheduler, n_workers, progress, wall)
    finally:
        set_global_job_kwargs(**global_job_kwargs)

    wings = {}
    fig_dir = output / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    if "motion" in config.sections:
        from .motion import motion_section

        t0 = time.perf_counter()
        if progress:
            print(f"motion: correct_motion with {len(config.effective_motion_methods)} localizers on "
                  f"{len(config.effective_motion_scenarios)} drifting recording(s)", flush=True)
        wings["motion"] = motion_section(
            fig_dir, config.effective_motion_scenarios, config.effective_motion_methods,
            config.effective_motion_duration_s, seed=config.seed, job_kwargs=config.job_kwargs,
            num_channels=32 if config.size == "tiny" else 64,
        )
        wall["motion"] = time.perf_counter() - t0
    if "nemo" in config.sections:
        from .wings import nemo_section

        t0 = time.perf_counter()
        recording, gt_sorting = resolved[0].load()
        wings["nemo"] = nemo_section(recording, gt_sorting, fig_dir, seed=config.seed, job_kwargs=config.job_kwargs)
        wall["nemo"] = time.perf_counter() - t0
    if "rollae" in config.sections:
        from .wings import rollae_section

        t0 = time.perf_counter()
        wings["rollae"] = rollae_section(fig_dir, size=config.size, seed=config.seed)
        wall["rollae"] = time.perf_counter() - t0
    if "scale" in config.sections:
        from .scale import measure_long_recording_memory

        t0 = time.perf_counter()
        if progress:
            print(f"scale: location sorter on {config.effective_scale_duration_s:.0f} s of a lazy {config.scale_probe} "
                  "recording (own process)", flush=True)
        wings["scale"] = measure_long_recording_memory(
            config.scale_probe, config.effective_scale_duration_s, job_kwargs=config.job_kwargs, seed=config.seed
        )
        wall["scale"] = time.perf_counter() - t0
    wall["total"] = time.perf_counter() - t_start

    run_info = dict(
        command=command or " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name] + sys.argv[1:]),
        versions=package_versions(),
        wall_times=wall,
        peak_rss_mb=peak_rss_mb(),
        machine=f"{platform.platform()}, {os.cpu_count()} CPUs",
        executor="dask" if (dask or scheduler is not None) else "local",
        sorter_params=LocationSorter.default_params(),
    )
    return write_report(output, results, config, wings=wings, run_info=run_info)

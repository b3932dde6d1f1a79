"""Named ground-truth scenarios of the benchmark, simulated with MEArec and cached by parameters.

A scenario is a probe, a noise level, a number of cells, a duration and a seed. The simulated file is
cached in the user cache (``si_amortized.datasets.cache_folder()``) keyed by these parameters, so a
second benchmark run reuses it.

The packaged template library has 12 templates per BBP cell model; 50 cells fit on SqMEA-10-15 and
Neuropixels-64 as 25 excitatory + 25 inhibitory cells at least 15 um apart (40 E + 10 I does not fit:
there are only 48 excitatory templates).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

SIZES = ("tiny", "quick", "full")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One MEArec ground-truth recording.

    Parameters
    ----------
    name : str
        Label used in the report (e.g. ``"sqmea-10uv"``).
    probe : str, default: "SqMEA-10-15"
        MEAutility probe name.
    noise_level : float, default: 10.0
        Noise standard deviation (uV, before MEArec's band-pass filter).
    n_exc, n_inh : int, default: 25, 25
        Excitatory / inhibitory cells.
    duration : float, default: 60.0
        Seconds.
    seed : int, default: 0
        Seeds the spike trains, template selection (which neurons) and noise.
    min_dist : float, default: 15.0
        Minimum soma distance, um.
    """

    name: str
    probe: str = "SqMEA-10-15"
    noise_level: float = 10.0
    n_exc: int = 25
    n_inh: int = 25
    duration: float = 60.0
    seed: int = 0
    min_dist: float = 15.0

    @property
    def num_cells(self) -> int:
        return self.n_exc + self.n_inh

    def simulate(self) -> Path:
        """Path of the MEArec file (simulated on first use, then read from the cache)."""
        from ..datasets import simulate_recording

        return simulate_recording(
            self.probe, n_exc=self.n_exc, n_inh=self.n_inh, duration=self.duration, noise_level=self.noise_level,
            seed=self.seed, min_dist=self.min_dist,
        )

    def load(self):
        """``(recording, gt_sorting)`` with the ground truth as sorting properties."""
        from ..datasets import load_mearec

        return load_mearec(self.simulate())

    def replace(self, **changes) -> "Scenario":
        return dataclasses.replace(self, **changes)

    def with_other_neurons(self) -> "Scenario":
        """The same scenario with another seed: other neurons (templates, positions) and spike trains."""
        return self.replace(name=f"{self.name}-other", seed=self.seed + 1000)


_PROBES = {"sqmea": "SqMEA-10-15", "np64": "Neuropixels-64"}
_NOISES = (10, 20, 30)


def _base(name: str) -> Scenario:
    probe_key, noise = name.split("-")
    return Scenario(name=name, probe=_PROBES[probe_key], noise_level=float(noise.removesuffix("uv")))


SCENARIOS: dict[str, Scenario] = {
    f"{p}-{n}uv": _base(f"{p}-{n}uv") for p in _PROBES for n in _NOISES
}
"""The named scenarios at full size: ``sqmea-{10,20,30}uv`` and ``np64-{10,20,30}uv``."""

GROUPS: dict[str, list[str]] = {
    "sqmea": [f"sqmea-{n}uv" for n in _NOISES],
    "np64": [f"np64-{n}uv" for n in _NOISES],
    "all": list(SCENARIOS),
}


def sized(scenario: Scenario, size: str) -> Scenario:
    """A scenario shrunk to a run size.

    Parameters
    ----------
    scenario : Scenario
    size : "tiny" | "quick" | "full"
        ``full``: as defined (50 cells, 60 s). ``quick``: 50 cells, 20 s. ``tiny`` (tests, CI):
        8 E + 2 I cells, 5 s.

    Returns
    -------
    Scenario
    """
    if size == "full":
        return scenario
    if size == "quick":
        return scenario.replace(duration=20.0)
    if size == "tiny":
        return scenario.replace(n_exc=8, n_inh=2, duration=5.0)
    raise ValueError(f"size must be one of {SIZES}, not {size!r}")


def get_scenarios(names: str | list[str], size: str = "full", seed: int | None = None) -> list[Scenario]:
    """Scenarios by name or group name.

    Parameters
    ----------
    names : str | list of str
        Scenario names (``"sqmea-10uv"``, ...), group names (``"sqmea"``, ``"np64"``, ``"all"``), or a
        comma-separated string of them.
    size : "tiny" | "quick" | "full", default: "full"
    seed : int | None, default: None
        Overrides the scenarios' seed.

    Returns
    -------
    list of Scenario
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[Scenario] = []
    for name in names:
        key = name.lower()
        if key in GROUPS:
            keys = GROUPS[key]
        elif key in SCENARIOS:
            keys = [key]
        else:
            raise ValueError(f"Unknown scenario {name!r}; scenarios: {sorted(SCENARIOS)}, groups: {sorted(GROUPS)}")
        for k in keys:
            scenario = sized(SCENARIOS[k], size)
            if seed is not None:
                scenario = scenario.replace(seed=int(seed))
            if scenario not in out:
                out.append(scenario)
    return out

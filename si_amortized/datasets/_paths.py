"""Cache folder and probe-name checks shared by the dataset modules."""

from __future__ import annotations

import difflib
import os
from pathlib import Path


def cache_folder() -> Path:
    """User cache folder: ``$SI_AMORTIZED_CACHE`` or ``$XDG_CACHE_HOME/si_amortized`` (``~/.cache/si_amortized``)."""
    env = os.environ.get("SI_AMORTIZED_CACHE")
    if env:
        folder = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "si_amortized"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_probe_name(probe: str) -> None:
    """Raise a ValueError naming close matches when ``probe`` is not a MEAutility probe."""
    import MEAutility as mu

    names = list(mu.return_mea_list())
    if probe not in names:
        close = difflib.get_close_matches(str(probe), names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown probe {probe!r}.{hint} Available MEAutility probes: {sorted(names)}.")

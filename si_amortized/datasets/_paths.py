"""Cache folder and probe-name checks shared by the dataset modules."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
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


def file_digest(path: str | Path, length: int = 12) -> str:
    """First ``length`` hex digits of the SHA-1 of a file's bytes: a cache key that follows the content, so
    two different files of the same name (in different folders) never share a cached result."""
    sha = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            sha.update(block)
    return sha.hexdigest()[:length]


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Write a file atomically: the block writes to the yielded temporary path beside ``path``
    (``name.partial.<suffix>``), which replaces ``path`` when the block succeeds. A failed or interrupted
    write leaves no half-written file behind (the temporary one is removed)."""
    path = Path(path)
    partial = path.with_suffix(".partial" + path.suffix)
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def check_probe_name(probe: str) -> None:
    """Raise a ValueError naming close matches when ``probe`` is not a MEAutility probe."""
    import MEAutility as mu

    names = list(mu.return_mea_list())
    if probe not in names:
        close = difflib.get_close_matches(str(probe), names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown probe {probe!r}.{hint} Available MEAutility probes: {sorted(names)}.")

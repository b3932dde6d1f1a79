"""Localizers shipped with the package, trained on simulated spikes of the packaged probes' layouts.

Each file in ``pretrained/`` is a :func:`~si_amortized.localization.fit.save_localizer` file whose
metadata records its training corpus (probe, template seeds, number of templates) and the calibration
of its posterior (on held-out templates, then on a MEArec recording of a seed no benchmark reports on).
``scripts/train_pretrained_localizers.py`` makes them; ``scripts/calibrate_pretrained_localizers.py``
calibrates them.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from .extraction import check_layout
from .fit import load_localizer
from .model import VaeLocalizer

PRETRAINED_FOLDER = Path(__file__).parent / "pretrained"
#: The value of ``model=`` that picks the shipped localizer fitting the recording's layout.
PRETRAINED_NAME = "pretrained"
#: The value of ``model=`` that picks the shipped localizer when one fits, and training otherwise.
AUTO_NAME = "auto"

__all__ = [
    "AUTO_NAME",
    "PRETRAINED_FOLDER",
    "PRETRAINED_NAME",
    "pretrained_files",
    "pretrained_localizer",
    "pretrained_localizer_file",
    "resolve_auto",
]


def pretrained_files() -> list[Path]:
    """The shipped localizer files, sorted by name."""
    return sorted(PRETRAINED_FOLDER.glob("vae_*.pt"))


def pretrained_localizer(recording) -> VaeLocalizer:
    """The shipped localizer whose layout (channel offsets of its neighbourhood, samples per waveform) fits ``recording``.

    Parameters
    ----------
    recording : BaseRecording

    Returns
    -------
    VaeLocalizer
        The caller's own copy (the file is read once per process).

    Raises
    ------
    ValueError
        When none fits, naming each shipped localizer and why it does not fit.
    """
    return copy.deepcopy(_fitting_localizer(recording)[1])


def pretrained_localizer_file(recording) -> Path:
    """The file of the shipped localizer that fits ``recording`` (see :func:`pretrained_localizer`).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When none fits, naming each shipped localizer and why it does not fit.
    """
    return _fitting_localizer(recording)[0]


def resolve_auto(model, recording):
    """``model`` itself, except ``"auto"``: the shipped localizer that fits ``recording``, or None (train) when none does.

    Parameters
    ----------
    model : VaeLocalizer | str | Path | None
    recording : BaseRecording

    Returns
    -------
    VaeLocalizer | str | Path | None
    """
    if not (isinstance(model, str) and model == AUTO_NAME):
        return model
    try:
        return pretrained_localizer(recording)
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def _loaded(path: str, mtime_ns: int, size: int) -> VaeLocalizer:
    """A shipped file, loaded once per process (the key changes when the file does)."""
    return load_localizer(path)


def _shipped_localizer(path: Path) -> VaeLocalizer:
    """The shipped localizer in ``path``, loaded once per process (loading took 10 % of a localization run).

    The same object is returned each time: copy it before handing it out.
    """
    stat = path.stat()
    return _loaded(str(path), stat.st_mtime_ns, stat.st_size)


def _fitting_localizer(recording) -> tuple[Path, VaeLocalizer]:
    """The first shipped file whose layout fits ``recording`` and its process-wide model (not a copy)."""
    from .prepare import feature_config_of

    reasons = []
    for path in pretrained_files():
        model = _shipped_localizer(path)
        try:
            check_layout(model, recording, feature_config_of(model))
        except ValueError as error:
            reasons.append(f"  {path.stem}: {error}")
            continue
        return path, model
    listing = "\n".join(reasons) or "  (none shipped)"
    raise ValueError(
        "No pretrained VAE localizer fits this recording's probe layout and sampling frequency:\n"
        f"{listing}\n"
        "Train one on the recording (model=None), or on simulated templates of your probe "
        "(si_amortized.localization.fit_simulated_localizer)."
    )

"""Train NEMO from one or many SortingAnalyzers (inputs prepared per analyzer, then :func:`fit_nemo`)."""

from __future__ import annotations

import numpy as np

from .config import AugmentConfig, NemoConfig, TrainConfig
from .fit import fit_nemo
from .inputs import prepare_inputs
from .model import NemoModel

__all__ = ["train_nemo", "inputs_from_analyzers"]


def inputs_from_analyzers(sorting_analyzers, config: NemoConfig = NemoConfig(), compute_templates: bool = True):
    """Concatenated ACG images and waveforms of all units of one or several analyzers.

    Parameters
    ----------
    sorting_analyzers : SortingAnalyzer | list of SortingAnalyzer
    config : NemoConfig
    compute_templates : bool, default: True
        Compute ``random_spikes`` + ``templates`` where missing (needs the recording).

    Returns
    -------
    acg_images : np.ndarray, shape (num_units_total, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units_total, num_channels, num_samples)
    analyzer_index : np.ndarray, shape (num_units_total,)
    """
    if not isinstance(sorting_analyzers, (list, tuple)):
        sorting_analyzers = [sorting_analyzers]
    acgs, wfs, which = [], [], []
    for i, analyzer in enumerate(sorting_analyzers):
        if not analyzer.has_extension("templates"):
            if not compute_templates:
                raise ValueError("analyzer has no 'templates' extension")
            analyzer.compute(["random_spikes", "templates"])
        acg, wf = prepare_inputs(analyzer, config)
        acgs.append(acg)
        wfs.append(wf)
        which.append(np.full(acg.shape[0], i))
    return np.concatenate(acgs), np.concatenate(wfs), np.concatenate(which)


def train_nemo(
    sorting_analyzers,
    *,
    config: NemoConfig | None = None,
    model: NemoModel | None = None,
    train_config: TrainConfig = TrainConfig(),
    augment_config: AugmentConfig = AugmentConfig(),
    validation_analyzers=None,
    seed: int | None = 0,
    device: str | None = "auto",
    progress_bar: bool = True,
):
    """Train a NEMO model on the units of one or several SortingAnalyzers.

    Parameters
    ----------
    sorting_analyzers : SortingAnalyzer | list of SortingAnalyzer
    config : NemoConfig | None, default: None
        Preprocessing and architecture of a new model (default: the paper's).
    model : NemoModel | None, default: None
        Continue training this model (its config is used).
    train_config, augment_config : TrainConfig, AugmentConfig
    validation_analyzers : SortingAnalyzer | list | None, default: None
        Held-out analyzers for the checkpoint choice (default: a random ``val_fraction`` of units).
    seed : int | None, default: 0
    device : str | None, default: "auto"
    progress_bar : bool, default: True

    Returns
    -------
    model : NemoModel
    history : dict
    """
    cfg = model.config if model is not None else (config or NemoConfig())
    acg, wf, _ = inputs_from_analyzers(sorting_analyzers, cfg)
    validation = None
    if validation_analyzers is not None:
        v_acg, v_wf, _ = inputs_from_analyzers(validation_analyzers, cfg)
        validation = (v_acg, v_wf)
    return fit_nemo(
        acg, wf, config=cfg, model=model, train_config=train_config, augment_config=augment_config,
        validation=validation, seed=seed, device=device, progress_bar=progress_bar,
    )

"""Training on a subset of spikes, amortized inference, and saving / loading of a trained localizer."""

from __future__ import annotations

import dataclasses
import functools
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._adam import Adam
from .._torch import predict_in_batches, resolve_device, seed_everything, torch_threads
from ..model_store import from_record, load_model, record_from_extension_data, register_model_kind, remember, save_model
from .config import FeatureConfig, ModelConfig, TrainingConfig
from .loss import gaussian_location_nll, negative_elbo
from .model import VaeLocalizer, amplitude_weights, temporal_basis_from_waveforms
from .neighbourhood import Neighbourhood, SpikeExamples

MODEL_FILE_NAME = "vae_model.pt"
#: Kind of the localizer in :mod:`si_amortized.model_store`.
MODEL_KIND = "vae_localizer"


def build_localizer(
    neighbourhood: Neighbourhood,
    num_samples: int,
    feature_config: FeatureConfig,
    model_config: ModelConfig,
    sampling_frequency: float,
) -> VaeLocalizer:
    """A fresh (untrained) localizer for a neighbourhood layout."""
    metadata = dict(
        feature_config=dataclasses.asdict(feature_config),
        model_config=dataclasses.asdict(model_config),
        sampling_frequency=float(sampling_frequency),
    )
    return VaeLocalizer(
        neighbourhood.offsets,
        num_samples,
        neighbourhood.free_axes,
        hidden_sizes=model_config.hidden_sizes,
        decay_length_um=model_config.decay_length_um,
        normalize_waveforms=feature_config.normalize_waveforms,
        temporal_components=model_config.temporal_components,
        metadata=metadata,
        amplitude_model=model_config.amplitude_model,
        learn_decay_length=model_config.learn_decay_length,
    )


def train_localizer(
    model: VaeLocalizer,
    examples: SpikeExamples,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    verbose: bool = False,
    noise_uv: float | None = None,
) -> list[float]:
    """Fit the encoder (and, with ``amplitude_fit="per_example"``, each example's ``log a``) by maximising the ELBO.

    Parameters
    ----------
    model : VaeLocalizer
        Trained in place; returned on the CPU in eval mode.
    examples : SpikeExamples
        Training examples (virtual/NaN channels already flagged).
    model_config : ModelConfig
    training_config : TrainingConfig
    verbose : bool, default: False
    noise_uv : float | None, default: None
        Noise standard deviation of the traces (uV); required by ``likelihood="gaussian"``.

    Returns
    -------
    list of float
        Mean loss per epoch.
    """
    with torch_threads(training_config.num_threads):
        return _train(model, examples, model_config, training_config, verbose, noise_uv)


def _training_tensors(examples: SpikeExamples, *per_example: np.ndarray) -> list[torch.Tensor]:
    """Waveforms, observed flags, amplitudes (and ``per_example`` arrays) of the examples with a negative peak."""
    keep = examples.amplitudes.max(axis=1) > 0
    arrays = (examples.waveforms, examples.observed, examples.amplitudes, *per_example)
    tensors = [torch.as_tensor(np.asarray(a, dtype="float32")[keep]) for a in arrays]
    if tensors[0].shape[0] < 2:
        raise ValueError(
            f"Training a localizer needs at least 2 examples with a negative peak, got {tensors[0].shape[0]}"
        )
    return tensors


def _train(model, examples, model_config, training_config, verbose, noise_uv):
    gaussian = model_config.likelihood == "gaussian"
    if gaussian and not (noise_uv is not None and np.isfinite(noise_uv) and noise_uv > 0):
        raise ValueError(f"likelihood='gaussian' needs the recording's noise level (noise_uv > 0), got {noise_uv}")
    per_example = model_config.amplitude_fit == "per_example"
    generator = seed_everything(training_config.seed)
    device = resolve_device(training_config.device)
    wf, obs, amps = _training_tensors(examples)
    num = wf.shape[0]

    _reset_for_training(model, wf, obs, amps, training_config.seed)
    model.to(device).train()
    optimizer = Adam(model.parameters(), lr=training_config.learning_rate, betas=training_config.betas)
    if per_example:
        log_a = nn.Embedding(num, 1, sparse=True).to(device)
        with torch.no_grad():
            peak = amps.max(dim=1).values.clamp_min(1e-3)
            log_a.weight.copy_(torch.log(model_config.amplitude_init_factor * peak)[:, None].to(device))
        amp_optimizer = torch.optim.SparseAdam(log_a.parameters(), lr=training_config.amplitude_learning_rate)

    batch_size = min(training_config.batch_size, num)
    history = []
    for epoch in range(training_config.epochs):
        order = torch.randperm(num, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, num, batch_size):
            idx = order[start : start + batch_size]
            if idx.numel() < 2:  # BatchNorm needs two examples
                continue
            b_wf, b_obs, b_amps = wf[idx].to(device), obs[idx].to(device), amps[idx].to(device)
            mean, var = model(b_wf, b_obs, b_amps)
            eps = torch.randn(mean.shape, generator=generator).to(device)
            sample = (mean + var.sqrt() * eps) * model.free_axes
            if gaussian:
                weights = amplitude_weights(b_amps, b_obs, noise_uv, model_config.amplitude_noise_fraction)
            else:
                weights = b_obs
            if per_example:
                predicted = model.decode(sample, log_a=log_a(idx.to(device))[:, 0])
            else:
                predicted = model.decode(sample, amplitudes=b_amps, weights=weights)
            # a Gaussian log-likelihood carries 1/2; the paper's squared error does not
            error_weights = 0.5 * weights if gaussian else weights
            loss = negative_elbo(b_amps, predicted, error_weights, mean, var, model_config.prior_std_um, model.free_axes)
            optimizer.zero_grad()
            if per_example:
                amp_optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if per_example:
                amp_optimizer.step()
            total += float(loss.detach()) * idx.numel()
            seen += idx.numel()
        history.append(total / max(seen, 1))
        if verbose:
            print(f"vae localization epoch {epoch + 1}/{training_config.epochs}: loss {history[-1]:.2f}")
    model.cpu().eval()
    return history


def _reset_for_training(model: VaeLocalizer, wf, obs, amps, seed: int) -> None:
    """Re-initialise the encoder from the seed (reproducible training) and set the temporal basis."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            module.reset_parameters()
            module.reset_running_stats()
    model.reset_amplitude_model()
    if model.temporal_components:
        with torch.no_grad():
            basis = temporal_basis_from_waveforms(model.scaled_waveforms(wf, amps), obs, model.temporal_components)
            model.temporal_basis.copy_(basis)


def train_localizer_supervised(
    model: VaeLocalizer,
    examples: SpikeExamples,
    targets: np.ndarray,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    verbose: bool = False,
) -> list[float]:
    """Fit the encoder to known source locations: Gaussian negative log-likelihood of the targets.

    Parameters
    ----------
    model : VaeLocalizer
        Trained in place; returned on the CPU in eval mode.
    examples : SpikeExamples
    targets : np.ndarray, shape (num_examples, 3)
        True source of each example: x, y relative to its centre channel, z the distance from the plane.
    model_config : ModelConfig
    training_config : TrainingConfig
    verbose : bool, default: False

    Returns
    -------
    list of float
        Mean loss per epoch.
    """
    with torch_threads(training_config.num_threads):
        generator = seed_everything(training_config.seed)
        device = resolve_device(training_config.device)
        wf, obs, amps, target = _training_tensors(examples, targets)
        num = wf.shape[0]
        _reset_for_training(model, wf, obs, amps, training_config.seed)
        model.posterior_std_scale.fill_(1.0)
        model.posterior_std_floor.fill_(0.0)
        model.to(device).train()
        optimizer = Adam(model.encoder.parameters(), lr=training_config.learning_rate, betas=training_config.betas)
        batch_size = min(training_config.batch_size, num)
        history = []
        for epoch in range(training_config.epochs):
            order = torch.randperm(num, generator=generator)
            total, seen = 0.0, 0
            for start in range(0, num, batch_size):
                idx = order[start : start + batch_size]
                if idx.numel() < 2:
                    continue
                mean, var = model(wf[idx].to(device), obs[idx].to(device), amps[idx].to(device))
                loss = gaussian_location_nll(mean, var, target[idx].to(device), model.free_axes)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * idx.numel()
                seen += idx.numel()
            history.append(total / max(seen, 1))
            if verbose:
                print(f"simulation-trained localizer epoch {epoch + 1}/{training_config.epochs}: loss {history[-1]:.3f}")
        model.cpu().eval()
        return history


def predict_examples(
    model: VaeLocalizer, examples: SpikeExamples, batch_size: int = 4096, device: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of every example (relative to its centre channel).

    Returns
    -------
    mean : np.ndarray, shape (num_examples, 3)
    var : np.ndarray, shape (num_examples, 3)
    """
    if model.training:
        model.eval()
    if examples.waveforms.shape[0] == 0:
        return np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")
    device = resolve_device(device)
    if model.offsets.device != device:
        model.to(device)
    fn = functools.partial(model, projected=True) if examples.projected else model
    return predict_in_batches(
        fn, examples.waveforms, examples.observed, examples.amplitudes, batch_size=batch_size, device=device
    )


def aggregate_locations(
    examples: SpikeExamples, mean: np.ndarray, var: np.ndarray, channel_locations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute per-spike locations: average of the examples of each spike (amplitude jitter).

    Parameters
    ----------
    examples : SpikeExamples
    mean, var : np.ndarray, shape (num_examples, 3)
    channel_locations : np.ndarray, shape (num_channels, 2)

    Returns
    -------
    locations : np.ndarray, shape (num_spikes, 3)
        x, y in the probe plane and z >= 0 the distance from it; NaN for spikes that cannot be localized.
    std : np.ndarray, shape (num_spikes, 3)
        Posterior standard deviations (root mean variance over the examples of a spike).
    """
    n = examples.valid.size
    locs = np.asarray(channel_locations, dtype="float64")[:, :2]
    absolute = np.asarray(mean, dtype="float64").copy()
    absolute[:, :2] += locs[examples.centre_channel]
    absolute[:, 2] = np.abs(absolute[:, 2])
    counts = np.bincount(examples.spike_index, minlength=n).astype("float64")
    var = np.asarray(var, dtype="float64")
    # per-axis sums in the examples' order (np.bincount: what np.add.at gives, several times faster)
    sums = np.stack([np.bincount(examples.spike_index, absolute[:, j], minlength=n) for j in range(3)], axis=1)
    var_sums = np.stack([np.bincount(examples.spike_index, var[:, j], minlength=n) for j in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        locations = sums / counts[:, None]
        std = np.sqrt(var_sums / counts[:, None])
    bad = ~examples.valid | (counts == 0)
    locations[bad] = np.nan
    std[bad] = np.nan
    return locations, std


def _localizer_parts(model: VaeLocalizer) -> tuple[dict, dict]:
    return model.architecture(), model.state_dict()


def _localizer_from_parts(architecture: dict, state_dict: dict) -> VaeLocalizer:
    arch = architecture
    model = VaeLocalizer(
        np.asarray(arch["offsets"], dtype="float32"),
        arch["num_samples"],
        np.asarray(arch["free_axes"], dtype="float32"),
        hidden_sizes=tuple(arch["hidden_sizes"]),
        decay_length_um=arch["decay_length_um"],
        normalize_waveforms=arch["normalize_waveforms"],
        temporal_components=arch.get("temporal_components", 0),
        metadata=arch["metadata"],
        amplitude_model=arch.get("amplitude_model", "exponential"),
        learn_decay_length=arch.get("learn_decay_length", False),
    )
    state_dict = dict(state_dict)
    # saved before the amplitude models / calibration / its floor
    for key in ("log_decay_length", "posterior_std_scale", "posterior_std_floor"):
        if key not in state_dict:
            state_dict[key] = getattr(model, key).detach().clone()
    model.load_state_dict(state_dict)
    return model.eval()


register_model_kind(MODEL_KIND, VaeLocalizer, _localizer_parts, _localizer_from_parts)


def _localizer_from_legacy_bytes(blob: bytes) -> VaeLocalizer:
    """A localizer saved by si_amortized <= 0.5 (``torch.save`` of architecture + state dict)."""
    payload = torch.load(io.BytesIO(bytes(blob)), map_location="cpu", weights_only=True)
    return _localizer_from_parts(payload["architecture"], payload["state_dict"])


def save_localizer(model: VaeLocalizer, path: str | Path) -> Path:
    """Write a trained localizer to one file (:func:`si_amortized.model_store.save_model`).

    Parameters
    ----------
    model : VaeLocalizer
    path : str | Path
        File path; when it is a folder, ``vae_model.pt`` is written inside.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE_NAME
    return save_model(model, path)


def load_localizer(source) -> VaeLocalizer:
    """Load a trained localizer.

    Parameters
    ----------
    source : VaeLocalizer | str | Path
        A localizer (returned as is), a file written by :func:`save_localizer`, or a folder holding
        ``vae_model.pt``, or a saved analyzer (or its ``extensions/vae_locations`` folder) whose
        ``vae_locations`` extension holds a model. Files of earlier versions load too.
    """
    if isinstance(source, VaeLocalizer):
        return source
    path = Path(source)
    if path.is_dir():
        for folder in (path, path / "extensions" / "vae_locations"):
            if (folder / MODEL_FILE_NAME).is_file():
                path = folder / MODEL_FILE_NAME
                break
            if (folder / "model_info.json").is_file():
                return _localizer_from_extension_folder(folder)
            if (folder / "vae_model.npy").is_file():
                return _localizer_from_legacy_bytes(np.load(folder / "vae_model.npy").astype(np.uint8).tobytes())
        else:
            raise FileNotFoundError(f"No trained VAE localizer (vae_model.pt or a vae_locations extension) in {path}")
    if not path.is_file():
        raise FileNotFoundError(f"No trained VAE localizer at {path}")
    try:
        return load_model(path, kind=MODEL_KIND)
    except ValueError as error:
        if "not a model file" not in str(error):
            raise
        return _localizer_from_legacy_bytes(path.read_bytes())


def _localizer_from_extension_folder(folder: Path) -> VaeLocalizer:
    import json

    data = {"model_info": json.loads((folder / "model_info.json").read_text())}
    for key in ("model_weights", "model_counters"):
        data[key] = np.load(folder / f"{key}.npy")
    record = record_from_extension_data(data)
    remember(record)
    return from_record(record, kind=MODEL_KIND)

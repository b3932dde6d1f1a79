"""Training on a subset of spikes, amortized inference, and saving / loading of a trained localizer."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._torch import predict_in_batches, resolve_device, seed_everything
from .config import FeatureConfig, ModelConfig, TrainingConfig
from .loss import negative_elbo
from .model import VaeLocalizer, temporal_basis_from_waveforms
from .neighbourhood import Neighbourhood, SpikeExamples

MODEL_FILE_NAME = "vae_model.pt"


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
    )


def train_localizer(
    model: VaeLocalizer,
    examples: SpikeExamples,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    verbose: bool = False,
) -> list[float]:
    """Fit the encoder and the per-example amplitudes ``log a`` by maximising the ELBO.

    Parameters
    ----------
    model : VaeLocalizer
        Trained in place; returned on the CPU in eval mode.
    examples : SpikeExamples
        Training examples (virtual/NaN channels already flagged).
    model_config : ModelConfig
    training_config : TrainingConfig
    verbose : bool, default: False

    Returns
    -------
    list of float
        Mean loss per epoch.
    """
    previous_threads = torch.get_num_threads()
    if training_config.num_threads is not None:
        torch.set_num_threads(int(training_config.num_threads))
    try:
        return _train(model, examples, model_config, training_config, verbose)
    finally:
        torch.set_num_threads(previous_threads)


def _train(model, examples, model_config, training_config, verbose):
    generator = seed_everything(training_config.seed)
    device = resolve_device(training_config.device)
    keep = examples.amplitudes.max(axis=1) > 0
    wf = torch.as_tensor(examples.waveforms[keep])
    obs = torch.as_tensor(examples.observed[keep])
    amps = torch.as_tensor(examples.amplitudes[keep])
    num = wf.shape[0]
    if num < 2:
        raise ValueError(f"VAE localization needs at least 2 training examples with a negative peak, got {num}")

    # the encoder is re-initialised from the seed so that training is reproducible
    torch.manual_seed(training_config.seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            module.reset_parameters()
            module.reset_running_stats()
    if model.temporal_components:
        with torch.no_grad():
            basis = temporal_basis_from_waveforms(model.scaled_waveforms(wf, amps), obs, model.temporal_components)
            model.temporal_basis.copy_(basis)
    model.to(device).train()
    log_a = nn.Embedding(num, 1, sparse=True).to(device)
    with torch.no_grad():
        peak = amps.max(dim=1).values.clamp_min(1e-3)
        log_a.weight.copy_(torch.log(model_config.amplitude_init_factor * peak)[:, None].to(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=training_config.lr, betas=training_config.betas)
    amp_optimizer = torch.optim.SparseAdam(log_a.parameters(), lr=training_config.amplitude_lr)

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
            predicted = model.decode(sample, log_a(idx.to(device))[:, 0])
            loss = negative_elbo(b_amps, predicted, b_obs, mean, var, model_config.prior_std_um, model.free_axes)
            optimizer.zero_grad()
            amp_optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            amp_optimizer.step()
            total += float(loss.detach()) * idx.numel()
            seen += idx.numel()
        history.append(total / max(seen, 1))
        if verbose:
            print(f"vae localization epoch {epoch + 1}/{training_config.epochs}: loss {history[-1]:.2f}")
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
    model.eval()
    if examples.waveforms.shape[0] == 0:
        return np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")
    device = resolve_device(device)
    if model.offsets.device != device:
        model.to(device)
    return predict_in_batches(
        model, examples.waveforms, examples.observed, examples.amplitudes, batch_size=batch_size, device=device
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
    sums = np.zeros((n, 3))
    var_sums = np.zeros((n, 3))
    np.add.at(sums, examples.spike_index, absolute)
    np.add.at(var_sums, examples.spike_index, np.asarray(var, dtype="float64"))
    with np.errstate(invalid="ignore", divide="ignore"):
        locations = sums / counts[:, None]
        std = np.sqrt(var_sums / counts[:, None])
    bad = ~examples.valid | (counts == 0)
    locations[bad] = np.nan
    std[bad] = np.nan
    return locations, std


def localizer_to_bytes(model: VaeLocalizer) -> bytes:
    """Serialise architecture (plain data) + state dict with ``torch.save``."""
    buffer = io.BytesIO()
    torch.save({"architecture": model.architecture(), "state_dict": model.state_dict()}, buffer)
    return buffer.getvalue()


def localizer_from_bytes(blob: bytes) -> VaeLocalizer:
    """Inverse of :func:`localizer_to_bytes`."""
    payload = torch.load(io.BytesIO(bytes(blob)), map_location="cpu", weights_only=True)
    arch = payload["architecture"]
    model = VaeLocalizer(
        np.asarray(arch["offsets"], dtype="float32"),
        arch["num_samples"],
        np.asarray(arch["free_axes"], dtype="float32"),
        hidden_sizes=tuple(arch["hidden_sizes"]),
        decay_length_um=arch["decay_length_um"],
        normalize_waveforms=arch["normalize_waveforms"],
        temporal_components=arch.get("temporal_components", 0),
        metadata=arch["metadata"],
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def save_localizer(model: VaeLocalizer, path: str | Path) -> Path:
    """Write a trained localizer to a file (``torch.save`` of architecture + state dict).

    Parameters
    ----------
    model : VaeLocalizer
    path : str | Path
        File path; when it is a folder, ``vae_model.pt`` is written inside.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE_NAME
    path.write_bytes(localizer_to_bytes(model))
    return path


def load_localizer(source) -> VaeLocalizer:
    """Load a trained localizer.

    Parameters
    ----------
    source : VaeLocalizer | bytes | np.ndarray | str | Path
        A localizer (returned as is), serialised bytes (or a uint8 array of them), a file written by
        :func:`save_localizer`, a ``.npy`` array of bytes, or a folder holding ``vae_model.pt`` or
        ``vae_model.npy`` (e.g. the ``extensions/vae_locations`` folder of a saved analyzer, or the
        analyzer folder itself).
    """
    if isinstance(source, VaeLocalizer):
        return source
    if isinstance(source, (bytes, bytearray)):
        return localizer_from_bytes(source)
    if isinstance(source, np.ndarray):
        return localizer_from_bytes(source.astype(np.uint8).tobytes())
    path = Path(source)
    if path.is_dir():
        for candidate in (
            path / MODEL_FILE_NAME,
            path / "vae_model.npy",
            path / "extensions" / "vae_locations" / "vae_model.npy",
        ):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise FileNotFoundError(f"No trained VAE localizer (vae_model.pt / vae_model.npy) in {path}")
    if not path.is_file():
        raise FileNotFoundError(f"No trained VAE localizer at {path}")
    if path.suffix == ".npy":
        return localizer_from_bytes(np.load(path).astype(np.uint8).tobytes())
    return localizer_from_bytes(path.read_bytes())

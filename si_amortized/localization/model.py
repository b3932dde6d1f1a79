"""Inference network and exponential-decay amplitude model (pure torch)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def exponential_decay_amplitudes(
    locations: torch.Tensor, offsets: torch.Tensor, log_a: torch.Tensor, decay_length_um: float
) -> torch.Tensor:
    """Amplitudes predicted by a point source with exponential decay, ``a * exp(-r / decay_length_um)``.

    Parameters
    ----------
    locations : torch.Tensor, shape (num_examples, 3)
        Source positions (x, y, z) relative to the centre channel, micrometres.
    offsets : torch.Tensor, shape (num_slots, 2)
        Channel positions relative to the centre channel (z = 0: the probe plane).
    log_a : torch.Tensor, shape (num_examples,)
        Log of the amplitude at the source.
    decay_length_um : float

    Returns
    -------
    torch.Tensor, shape (num_examples, num_slots)
        Positive amplitudes.
    """
    planar = locations[:, None, :2] - offsets[None, :, :]
    r = torch.sqrt((planar**2).sum(dim=2) + locations[:, None, 2] ** 2 + 1e-12)
    return torch.exp(log_a[:, None] - r / decay_length_um)


def temporal_basis_from_waveforms(
    waveforms: torch.Tensor, observed: torch.Tensor, num_components: int
) -> torch.Tensor:
    """Principal temporal components of the observed channels' waveforms.

    Parameters
    ----------
    waveforms : torch.Tensor, shape (num_examples, num_slots, num_samples)
        Waveforms as the encoder sees them (normalised).
    observed : torch.Tensor, shape (num_examples, num_slots)
    num_components : int

    Returns
    -------
    torch.Tensor, shape (num_components, num_samples)
        Orthonormal rows: the leading right singular vectors of the (uncentred) stack of observed
        waveforms, so that projecting on them keeps the most waveform energy.
    """
    rows = waveforms[observed > 0].to(torch.float64)
    num_samples = waveforms.shape[-1]
    if rows.shape[0] < num_components:
        return torch.eye(num_samples)[:num_components]
    _, _, vh = torch.linalg.svd(rows.T @ rows)
    return vh[:num_components].to(torch.float32)


class LocationEncoder(nn.Module):
    """MLP giving a diagonal Gaussian posterior over (x, y, z).

    ``flatten -> [Linear -> BatchNorm -> ReLU] x len(hidden_sizes)``, then a mean head and a
    variance head (softplus + 1e-6). Xavier-uniform weights, zero biases.

    Parameters
    ----------
    num_inputs : int
    hidden_sizes : tuple of int, default: (500, 250)
    """

    def __init__(self, num_inputs: int, hidden_sizes: tuple = (500, 250)):
        super().__init__()
        layers = []
        width = num_inputs
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.mean_head = nn.Linear(width, 3)
        self.var_head = nn.Linear(width, 3)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean_head(h), nn.functional.softplus(self.var_head(h)) + 1e-6


class VaeLocalizer(nn.Module):
    """Amortized spike localizer: waveforms + observed flags of a neighbourhood -> posterior over the source.

    Parameters
    ----------
    offsets : np.ndarray, shape (num_slots, 2)
        Slot offsets of the neighbourhood (micrometres).
    num_samples : int
        Samples per waveform.
    free_axes : np.ndarray, shape (3,)
        1 for the axes the geometry resolves; the mean of a fixed axis is 0 and it has no prior term.
    hidden_sizes : tuple of int, default: (500, 250)
    decay_length_um : float, default: 28.0
    normalize_waveforms : bool, default: True
        Divide input waveforms by each example's largest amplitude.
    temporal_components : int, default: 0
        0: the encoder sees the raw waveforms (the paper). P > 0: each channel's waveform is first
        projected on a temporal basis of P components (``temporal_basis``, set from training data
        with :func:`temporal_basis_from_waveforms`), which makes the encoder several times smaller.
    metadata : dict | None, default: None
        Plain data describing how the inputs were made (configs, sampling frequency), saved with the weights.
    """

    def __init__(
        self,
        offsets: np.ndarray,
        num_samples: int,
        free_axes: np.ndarray,
        hidden_sizes: tuple = (500, 250),
        decay_length_um: float = 28.0,
        normalize_waveforms: bool = True,
        temporal_components: int = 0,
        metadata: dict | None = None,
    ):
        super().__init__()
        offsets = np.asarray(offsets, dtype="float32")
        self.num_slots = int(offsets.shape[0])
        self.num_samples = int(num_samples)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.decay_length_um = float(decay_length_um)
        self.normalize_waveforms = bool(normalize_waveforms)
        self.temporal_components = int(temporal_components)
        self.metadata = dict(metadata or {})
        if not 0 <= self.temporal_components <= self.num_samples:
            raise ValueError(f"temporal_components must be in [0, {self.num_samples}], not {temporal_components}")
        self.register_buffer("offsets", torch.as_tensor(offsets))
        self.register_buffer("free_axes", torch.as_tensor(np.asarray(free_axes, dtype="float32")))
        per_slot = self.num_samples
        if self.temporal_components:
            per_slot = self.temporal_components
            basis = torch.eye(self.num_samples)[: self.temporal_components]  # replaced by training data
            self.register_buffer("temporal_basis", basis)
        self.encoder = LocationEncoder(self.num_slots * (per_slot + 1), self.hidden_sizes)

    def scaled_waveforms(self, waveforms: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        """Waveforms (or their temporal components) divided by each example's largest amplitude (or by 100 uV).

        Parameters
        ----------
        waveforms : torch.Tensor, shape (num_examples, num_slots, num_samples_or_components)
        amplitudes : torch.Tensor, shape (num_examples, num_slots)
        """
        if self.normalize_waveforms:
            scale = amplitudes.amax(dim=1).clamp_min(1.0)
            return waveforms / scale[:, None, None]
        return waveforms / 100.0

    def encoder_input(self, waveforms: torch.Tensor, observed: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        """Flattened encoder input, shape (num_examples, num_slots * (P + 1)), P = samples or temporal components."""
        if self.temporal_components:  # project first (linear), then scale the smaller array
            waveforms = waveforms @ self.temporal_basis.T
        waveforms = self.scaled_waveforms(waveforms, amplitudes)
        return torch.cat([waveforms.flatten(1), observed], dim=1)

    def forward(
        self, waveforms: torch.Tensor, observed: torch.Tensor, amplitudes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of the source relative to the centre channel.

        Parameters
        ----------
        waveforms : torch.Tensor, shape (num_examples, num_slots, num_samples)
        observed : torch.Tensor, shape (num_examples, num_slots)
        amplitudes : torch.Tensor, shape (num_examples, num_slots)

        Returns
        -------
        mean : torch.Tensor, shape (num_examples, 3)
        var : torch.Tensor, shape (num_examples, 3)
        """
        mean, var = self.encoder(self.encoder_input(waveforms, observed, amplitudes))
        return mean * self.free_axes, var

    def decode(self, locations: torch.Tensor, log_a: torch.Tensor) -> torch.Tensor:
        """Amplitudes on the slots, shape (num_examples, num_slots); see :func:`exponential_decay_amplitudes`."""
        return exponential_decay_amplitudes(locations, self.offsets, log_a, self.decay_length_um)

    def architecture(self) -> dict:
        """Constructor arguments (plain data) rebuilding this module."""
        return dict(
            offsets=self.offsets.cpu().numpy().tolist(),
            num_samples=self.num_samples,
            free_axes=self.free_axes.cpu().numpy().tolist(),
            hidden_sizes=list(self.hidden_sizes),
            decay_length_um=self.decay_length_um,
            normalize_waveforms=self.normalize_waveforms,
            temporal_components=self.temporal_components,
            metadata=self.metadata,
        )

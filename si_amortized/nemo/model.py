"""NEMO encoders and projections (pure torch).

ACG encoder (after Beau et al. 2025): Conv2d(1->8, 1x10) -> AvgPool(2x2) -> GELU -> BatchNorm ->
Conv2d(8->16, 5x1) -> AvgPool(1x2) -> GELU -> BatchNorm -> flatten -> Linear(acg_dim) -> GELU -> Dropout.
Waveform encoder: MLP (in -> 600 -> 300) with GELU and dropout. One linear projection per modality to
``projection_dim``, then L2 normalization. The model owns its fixed temperature (as open_clip owns
``logit_scale``); the loss is a separate function (:mod:`.loss`).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .config import NemoConfig

__all__ = ["ACGEncoder", "WaveformEncoder", "NemoModel"]


class ACGEncoder(nn.Module):
    """Convolutional encoder of 3D ACG images ``(batch, num_rate_bins, num_log_bins)`` -> ``(batch, out_dim)``."""

    def __init__(self, num_rate_bins: int = 10, num_log_bins: int = 101, out_dim: int = 200, dropout: float = 0.2):
        super().__init__()
        if num_log_bins < 12:
            raise ValueError("the ACG encoder needs at least 12 log bins")
        self.conv1 = nn.Conv2d(1, 8, kernel_size=(1, 10))
        self.pool1 = nn.AvgPool2d(kernel_size=(2, 2)) if num_rate_bins >= 2 else nn.AvgPool2d(kernel_size=(1, 2))
        self.bn1 = nn.BatchNorm2d(8)
        rows = num_rate_bins // 2 if num_rate_bins >= 2 else 1
        cols = (num_log_bins - 9) // 2
        k2 = min(5, rows)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=(k2, 1))
        self.pool2 = nn.AvgPool2d(kernel_size=(1, 2))
        self.bn2 = nn.BatchNorm2d(16)
        flat = 16 * (rows - k2 + 1) * (cols // 2)
        self.fc = nn.Linear(flat, out_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, acg: torch.Tensor) -> torch.Tensor:
        x = acg.unsqueeze(1)
        x = self.bn1(F.gelu(self.pool1(self.conv1(x))))
        x = self.bn2(F.gelu(self.pool2(self.conv2(x))))
        return self.dropout(F.gelu(self.fc(x.flatten(1))))


class WaveformEncoder(nn.Module):
    """MLP encoder of normalized waveforms ``(batch, num_channels, num_samples)`` -> ``(batch, out_dim)``."""

    def __init__(self, in_dim: int = 90, hidden: int = 600, out_dim: int = 300, dropout: float = 0.1):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.dropout(F.gelu(self.fc1(waveform.flatten(1))))
        return self.dropout(F.gelu(self.fc2(x)))


class NemoModel(nn.Module):
    """Two encoders, two linear projections and the fixed CLIP temperature.

    Parameters
    ----------
    config : NemoConfig, default: NemoConfig()
        Input shapes come from ``config.acg`` / ``config.waveform``, sizes from ``config.model``.
    """

    def __init__(self, config: NemoConfig | None = None):
        super().__init__()
        config = NemoConfig() if config is None else config
        self.config = config
        m = config.model
        rows, cols = config.acg_shape
        channels, samples = config.waveform_shape
        self.acg_encoder = ACGEncoder(rows, cols, m.acg_dim, m.acg_dropout)
        self.waveform_encoder = WaveformEncoder(channels * samples, m.waveform_hidden, m.waveform_dim, m.waveform_dropout)
        self.acg_projection = nn.Linear(m.acg_dim, m.projection_dim)
        self.waveform_projection = nn.Linear(m.waveform_dim, m.projection_dim)
        self.register_buffer("temperature", torch.tensor(float(m.temperature)))

    def _check(self, acg: torch.Tensor, waveform: torch.Tensor):
        if tuple(acg.shape[1:]) != self.config.acg_shape:
            raise ValueError(f"ACG images must have shape (batch, {self.config.acg_shape}), got {tuple(acg.shape)}")
        if tuple(waveform.shape[1:]) != self.config.waveform_shape:
            raise ValueError(
                f"waveforms must have shape (batch, {self.config.waveform_shape}), got {tuple(waveform.shape)}"
            )

    def encode(self, acg: torch.Tensor, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Representations before projection: ``(batch, acg_dim)``, ``(batch, waveform_dim)``."""
        self._check(acg, waveform)
        return self.acg_encoder(acg), self.waveform_encoder(waveform)

    def project(self, rep_acg: torch.Tensor, rep_wf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """L2-normalized projections ``(batch, projection_dim)`` of each modality."""
        z_acg = F.normalize(self.acg_projection(rep_acg), dim=-1)
        z_wf = F.normalize(self.waveform_projection(rep_wf), dim=-1)
        return z_acg, z_wf

    def forward(self, acg: torch.Tensor, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized projections ``(z_acg, z_wf)``, each ``(batch, projection_dim)``."""
        return self.project(*self.encode(acg, waveform))

    def representation(self, acg: torch.Tensor, waveform: torch.Tensor) -> torch.Tensor:
        """Concatenated representation ``(batch, acg_dim + waveform_dim)`` (the paper's 500-d features)."""
        return torch.cat(self.encode(acg, waveform), dim=1)

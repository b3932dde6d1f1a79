"""The paper's augmentations (NEMO Supplementary Table 1), batched, applied independently per example.

ACG images ``(batch, num_rate_bins, num_log_bins)``: Gaussian smoothing along lag, integer lag jitter,
amplitude scaling, additive Gaussian noise clipped at zero, multiplicative pepper noise (each with its own
probability). Waveforms ``(batch, num_channels, num_samples)``: additive Gaussian noise; for multi-channel
templates also per-channel amplitude jitter and electrode dropout (the peak channel, index 0, is kept).
All outputs keep the input shape; ACG images stay non-negative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentConfig

__all__ = ["augment_acg", "augment_waveform"]


def _coin(p: float, n: int, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) < p


def _gaussian_smooth_lag(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    flat = x.reshape(-1, 1, x.shape[-1])
    flat = F.pad(flat, (radius, radius), mode="replicate")
    return F.conv1d(flat, kernel).reshape(x.shape)


def _jitter_lag(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    n_lag = x.shape[-1]
    idx = (torch.arange(n_lag, device=x.device)[None, :] - shifts[:, None]).clamp(0, n_lag - 1)
    idx = idx[:, None, :].expand(-1, x.shape[1], -1)
    return torch.gather(x, 2, idx)


def augment_acg(acg: torch.Tensor, config: AugmentConfig = AugmentConfig(), generator: torch.Generator | None = None):
    """Augment a batch of ACG images.

    Parameters
    ----------
    acg : torch.Tensor, shape (batch, num_rate_bins, num_log_bins)
    config : AugmentConfig
    generator : torch.Generator | None
        On the same device as ``acg``.

    Returns
    -------
    torch.Tensor, same shape, non-negative where the input is.
    """
    n, dev = acg.shape[0], acg.device
    x = acg
    sel = _coin(config.p_smooth, n, generator, dev)
    if sel.any():
        x = torch.where(sel[:, None, None], _gaussian_smooth_lag(x, config.smooth_sigma), x)
    sel = _coin(config.p_jitter, n, generator, dev)
    if sel.any():
        shifts = torch.randint(-config.max_jitter, config.max_jitter + 1, (n,), generator=generator, device=dev)
        x = _jitter_lag(x, shifts * sel)
    sel = _coin(config.p_scale, n, generator, dev)
    lo, hi = config.scale_range
    factor = lo + (hi - lo) * torch.rand(n, generator=generator, device=dev)
    x = x * torch.where(sel, factor, torch.ones_like(factor))[:, None, None]
    sel = _coin(config.p_acg_noise, n, generator, dev)
    if sel.any():
        peak = x.amax(dim=(1, 2), keepdim=True)
        noise = torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype) * config.acg_noise_scale * peak
        x = torch.where(sel[:, None, None], (x + noise).clamp_min(0.0), x)
    sel = _coin(config.p_pepper, n, generator, dev)
    if sel.any():
        drop = torch.rand(x.shape, generator=generator, device=dev) < config.pepper_fraction
        x = torch.where(sel[:, None, None] & drop, torch.zeros_like(x), x)
    return x


def augment_waveform(
    waveform: torch.Tensor, config: AugmentConfig = AugmentConfig(), generator: torch.Generator | None = None
):
    """Augment a batch of normalized waveforms.

    Parameters
    ----------
    waveform : torch.Tensor, shape (batch, num_channels, num_samples)
    config : AugmentConfig
    generator : torch.Generator | None

    Returns
    -------
    torch.Tensor, same shape.
    """
    n, dev = waveform.shape[0], waveform.device
    x = waveform
    sel = _coin(config.p_wf_noise, n, generator, dev)
    if sel.any():
        sd = x.std(dim=-1, keepdim=True)
        noise = torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype) * config.wf_noise_scale * sd
        x = torch.where(sel[:, None, None], x + noise, x)
    if x.shape[1] > 1:
        c = x.shape[1]
        jit = torch.rand((n, c), generator=generator, device=dev) < config.p_amp_jitter
        lo, hi = config.scale_range
        factor = lo + (hi - lo) * torch.rand((n, c), generator=generator, device=dev)
        x = x * torch.where(jit, factor, torch.ones_like(factor))[..., None]
        drop = torch.rand((n, c), generator=generator, device=dev) < config.p_dropout
        drop[:, 0] = False
        x = torch.where(drop[..., None], torch.zeros_like(x), x)
    return x

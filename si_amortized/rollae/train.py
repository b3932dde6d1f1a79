"""Training loop for Roll-AE (and for the shift-augmented / plain autoencoder baselines)."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from .loss import rollae_loss

__all__ = ["train_rollae", "circular_gaussian_smooth", "LR_SCHEDULES"]

#: learning-rate schedules of :func:`train_rollae`
LR_SCHEDULES = ("constant", "cosine")


def circular_gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Circular Gaussian smoothing along the last axis (commutes with cyclic shifts)."""
    if sigma <= 0:
        return x
    d = x.shape[-1]
    t = torch.arange(d, device=x.device, dtype=x.dtype)
    t = torch.minimum(t, d - t)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    return torch.fft.irfft(torch.fft.rfft(x, dim=-1) * torch.fft.rfft(kernel), n=d, dim=-1)


def train_rollae(
    net: torch.nn.Module,
    x: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    tau: float = 1.0,
    target_smoothing: float = 0.0,
    scale_loss_by_set_size: bool = False,
    element_loss: str = "mse",
    mode: str = "rollae",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    verbose: bool = False,
) -> list[float]:
    """Train a :class:`~si_amortized.rollae.model.RollAENet` in place.

    Parameters
    ----------
    net : RollAENet
    x : np.ndarray, shape (num_wells, num_electrodes, num_bins)
        Already transformed and scaled wells.
    epochs, batch_size, learning_rate, weight_decay :
        Adam settings.
    lr_schedule : {"constant", "cosine"}, default: "constant"
        ``"cosine"``: the learning rate follows ``learning_rate * (1 + cos(pi * step / total_steps)) / 2``,
        stepped per batch, reaching 0 after the last batch.
    tau : float, default: 1.0
        Shift-sampling rate: ``max(1, round(tau * D))`` shifts drawn per batch.
    target_smoothing : float, default: 0.0
        Circular Gaussian sigma (bins) applied to the loss target.
    element_loss : {"mse", "poisson"}, default: "mse"
        Roll-AE only: the loss between one transformed input and the reconstruction (see
        :func:`~si_amortized.rollae.loss.rollae_loss`); ``"poisson"`` needs a net with positive outputs.
    mode : {"rollae", "ae", "ae_shift_aug"}, default: "rollae"
        ``"ae"``: a plain autoencoder (shift 0 only, mean squared error); ``"ae_shift_aug"``: the same
        with a random cyclic shift of every input (and a random layout symmetry) as augmentation,
        reconstructing the shifted input as the paper's augmentation baseline does.
    generator : torch.Generator | None
    device : torch.device | str

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    if mode not in ("rollae", "ae", "ae_shift_aug"):
        raise ValueError(f"mode must be 'rollae', 'ae' or 'ae_shift_aug', got {mode!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    device = torch.device(device)
    net.to(device)
    net.train()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    data = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)
    n, _, d = data.shape
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    total_steps = epochs * math.ceil(n / batch_size)
    scheduler = None
    if lr_schedule == "cosine" and total_steps > 0:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
        )
    n_shifts = max(1, int(round(tau * d)))
    sym = net.symmetries
    history: list[float] = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            xb = data[order[start : start + batch_size]].to(device)
            target = circular_gaussian_smooth(xb, target_smoothing)
            if mode == "rollae":
                if n_shifts >= d:
                    shifts = None
                else:
                    shifts = torch.randperm(d, generator=generator)[:n_shifts]
                z, xhat = net(xb, shifts=shifts)
                loss = rollae_loss(
                    target, xhat, symmetries=sym, scale_by_set_size=scale_loss_by_set_size, element_loss=element_loss
                )
            else:
                if mode == "ae_shift_aug":
                    s = torch.randint(0, d, (xb.shape[0],), generator=generator)
                    g = torch.randint(0, sym.shape[0], (xb.shape[0],), generator=generator).to(device)
                    idx = (torch.arange(d)[None, :] - s[:, None]) % d
                    rows = torch.arange(xb.shape[0])[:, None]
                    xb = xb[rows.to(device), sym[g]]  # permuted electrodes
                    xb = torch.gather(xb, 2, idx.to(device)[:, None, :].expand_as(xb))
                    target = circular_gaussian_smooth(xb, target_smoothing)
                z = net.encode_plain(xb)
                xhat = net.decode(z)
                loss = torch.mean((xhat - target) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach()) * xb.shape[0]
        history.append(total / max(n, 1))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.5f} ({time.perf_counter() - t0:.1f} s)")
        if not math.isfinite(history[-1]):
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} (loss {history[-1]})")
    net.eval()
    return history

"""Roll-AE reconstruction loss: the linear-assignment loss between two sets of cyclic shifts.

Lemma A.1 of the paper: for the sets ``Pi(x) = {roll(x, i)}`` and ``Pi(y)``,
``min_psi sum_i l(roll(x, i), roll(y, psi(i))) = D * min_i l(roll(x, i), y)``.
The same argument holds for any finite group acting on the input (cyclic shifts times electrode-layout
symmetries): the loss is ``|G| * D * min_{g, i} l(g roll(x, i), y)``.
With ``l`` the mean squared error, the squared error of every shift comes from one circular
cross-correlation, computed with FFTs in ``O(D log D)`` instead of ``O(D^2)``. The same holds for any
element loss that is linear in the shifted input, such as the Poisson negative log-likelihood of counts
under the decoder's rates (:func:`shift_poisson_nll`).

Pure torch; never imports spikeinterface.
"""

from __future__ import annotations

import torch

__all__ = [
    "shift_squared_errors",
    "shift_poisson_nll",
    "min_shift_mse",
    "rollae_loss",
    "circular_cross_correlation",
    "RECONSTRUCTION_LOSSES",
]

#: element losses of :func:`rollae_loss`
RECONSTRUCTION_LOSSES = ("mse", "poisson")


def circular_cross_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``c[..., i] = sum_t a[..., t] * b[..., t - i]`` (indices mod D), i.e. ``<a, roll(b, i)>``.

    Parameters
    ----------
    a, b : torch.Tensor, shape (..., D)
        Broadcastable real tensors.

    Returns
    -------
    torch.Tensor, shape (..., D)
    """
    d = a.shape[-1]
    fa = torch.fft.rfft(a, dim=-1)
    fb = torch.fft.rfft(b, dim=-1)
    return torch.fft.irfft(fa * torch.conj(fb), n=d, dim=-1)


def _apply_symmetries(x: torch.Tensor, symmetries: torch.Tensor | None) -> torch.Tensor:
    """(B, E, D) -> (B, G, E, D) with ``out[:, g] = x[:, symmetries[g]]``."""
    if symmetries is None:
        return x[:, None]
    return x[:, symmetries]


def shift_squared_errors(
    x: torch.Tensor, y: torch.Tensor, symmetries: torch.Tensor | None = None, fft: bool = True
) -> torch.Tensor:
    """Per-element mean squared error between every transformed input and the reconstruction.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, num_electrodes, num_bins)
        Input wells.
    y : torch.Tensor, shape (batch, num_electrodes, num_bins)
        Reconstructions.
    symmetries : torch.Tensor | None, shape (num_symmetries, num_electrodes)
        Electrode permutations (a group); ``None`` means the identity only.
    fft : bool, default: True
        Use the FFT cross-correlation; ``False`` rolls explicitly (``O(D^2)`` memory-light loop).

    Returns
    -------
    torch.Tensor, shape (batch, num_symmetries, num_bins)
        ``err[b, g, i] = mean((x[b, symmetries[g]].roll(i, -1) - y[b]) ** 2)``.
    """
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"x and y must both have shape (batch, num_electrodes, num_bins); got {x.shape}, {y.shape}")
    _, e, d = x.shape
    xg = _apply_symmetries(x, symmetries)  # (B, G, E, D)
    if fft:
        cross = circular_cross_correlation(y[:, None], xg).sum(dim=2)  # (B, G, D)
    else:
        cross = torch.stack([(torch.roll(xg, i, dims=-1) * y[:, None]).sum(dim=(2, 3)) for i in range(d)], dim=-1)
    x2 = (x * x).sum(dim=(1, 2))[:, None, None]
    y2 = (y * y).sum(dim=(1, 2))[:, None, None]
    return (x2 + y2 - 2.0 * cross).clamp_min(0.0) / (e * d)


def shift_poisson_nll(
    x: torch.Tensor, rate: torch.Tensor, symmetries: torch.Tensor | None = None, fft: bool = True, eps: float = 1e-6
) -> torch.Tensor:
    """Per-element Poisson negative log-likelihood of every transformed input under the decoder's rates.

    ``nll(x, r) = mean(r - x * log(r))`` (the ``log(x!)`` term does not depend on the model and is dropped).
    It is linear in ``x``, so all shifts come from one circular cross-correlation of ``log(r)`` with ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, num_electrodes, num_bins)
        Input wells (non-negative counts or rates).
    rate : torch.Tensor, shape (batch, num_electrodes, num_bins)
        Positive rates of the reconstruction.
    symmetries : torch.Tensor | None, shape (num_symmetries, num_electrodes)
    fft : bool, default: True
        ``False`` rolls explicitly.
    eps : float, default: 1e-6
        Added to the rates inside the logarithm.

    Returns
    -------
    torch.Tensor, shape (batch, num_symmetries, num_bins)
        ``nll[b, g, i] = mean(rate[b] - x[b, symmetries[g]].roll(i, -1) * log(rate[b] + eps))``.
    """
    if x.shape != rate.shape or x.ndim != 3:
        raise ValueError(
            f"x and rate must both have shape (batch, num_electrodes, num_bins); got {x.shape}, {rate.shape}"
        )
    _, e, d = x.shape
    xg = _apply_symmetries(x, symmetries)  # (B, G, E, D)
    log_rate = torch.log(rate + eps)
    if fft:
        cross = circular_cross_correlation(log_rate[:, None], xg).sum(dim=2)  # (B, G, D)
    else:
        cross = torch.stack([(torch.roll(xg, i, dims=-1) * log_rate[:, None]).sum(dim=(2, 3)) for i in range(d)], dim=-1)
    return (rate.sum(dim=(1, 2))[:, None, None] - cross) / (e * d)


def min_shift_mse(x: torch.Tensor, y: torch.Tensor, symmetries: torch.Tensor | None = None, fft: bool = True) -> torch.Tensor:
    """``min over (symmetry, shift)`` of the per-element squared error, shape ``(batch,)``."""
    err = shift_squared_errors(x, y, symmetries=symmetries, fft=fft)
    return err.flatten(1).min(dim=1).values


def rollae_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    symmetries: torch.Tensor | None = None,
    fft: bool = True,
    reduction: str = "mean",
    scale_by_set_size: bool = True,
    element_loss: str = "mse",
) -> torch.Tensor:
    """Linear-assignment loss between the transformation sets of ``x`` and of the reconstruction ``y``.

    Parameters
    ----------
    x, y : torch.Tensor, shape (batch, num_electrodes, num_bins)
        Inputs and reconstructions (``element_loss="poisson"``: positive rates).
    symmetries : torch.Tensor | None, shape (num_symmetries, num_electrodes)
    fft : bool, default: True
    reduction : {"mean", "sum", "none"}, default: "mean"
    scale_by_set_size : bool, default: True
        Multiply by the set size ``num_symmetries * num_bins`` (Lemma A.1); ``False`` gives the
        per-element minimum, same minimiser, better scaled for optimisers.
    element_loss : {"mse", "poisson"}, default: "mse"
        Loss between one transformed input and the reconstruction: mean squared error (the paper) or
        the Poisson negative log-likelihood (:func:`shift_poisson_nll`).

    Returns
    -------
    torch.Tensor
        Scalar, or shape ``(batch,)`` with ``reduction="none"``.
    """
    if element_loss == "mse":
        per = min_shift_mse(x, y, symmetries=symmetries, fft=fft)
    elif element_loss == "poisson":
        per = shift_poisson_nll(x, y, symmetries=symmetries, fft=fft).flatten(1).min(dim=1).values
    else:
        raise ValueError(f"element_loss must be one of {RECONSTRUCTION_LOSSES}, got {element_loss!r}")
    if scale_by_set_size:
        g = 1 if symmetries is None else symmetries.shape[0]
        per = per * (g * x.shape[-1])
    if reduction == "mean":
        return per.mean()
    if reduction == "sum":
        return per.sum()
    if reduction == "none":
        return per
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

"""Negative ELBO of the VAE localizer: observed-masked squared error + KL to an isotropic prior."""

from __future__ import annotations

import math

import torch


def masked_squared_error(target: torch.Tensor, predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Squared error on observed channels, summed over channels and averaged over examples.

    Parameters
    ----------
    target, predicted, observed : torch.Tensor, shape (num_examples, num_slots)

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    return (observed * (target - predicted) ** 2).sum(dim=1).mean()


def gaussian_kl_to_prior(
    mean: torch.Tensor, var: torch.Tensor, prior_std: float, axis_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """KL of N(mean, diag(var)) to N(0, prior_std^2 I), summed over axes and averaged over examples.

    Parameters
    ----------
    mean, var : torch.Tensor, shape (num_examples, num_axes)
    prior_std : float
    axis_mask : torch.Tensor | None, shape (num_axes,)
        1 for the axes included in the KL.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    prior_var = prior_std**2
    kl = 0.5 * (var / prior_var + mean**2 / prior_var - 1.0 - torch.log(var) + math.log(prior_var))
    if axis_mask is not None:
        kl = kl * axis_mask
    return kl.sum(dim=1).mean()


def negative_elbo(
    amplitudes: torch.Tensor,
    predicted: torch.Tensor,
    observed: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    prior_std: float,
    axis_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`masked_squared_error` + :func:`gaussian_kl_to_prior`."""
    return masked_squared_error(amplitudes, predicted, observed) + gaussian_kl_to_prior(mean, var, prior_std, axis_mask)

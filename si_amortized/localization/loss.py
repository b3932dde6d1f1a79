"""Negative ELBO of the VAE localizer: weighted squared amplitude error + KL to an isotropic prior."""

from __future__ import annotations

import math

import torch


def masked_squared_error(target: torch.Tensor, predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Weighted squared error, summed over channels and averaged over examples.

    Parameters
    ----------
    target, predicted : torch.Tensor, shape (num_examples, num_slots)
    observed : torch.Tensor, shape (num_examples, num_slots)
        Weight of each channel: the observed flags (the paper), or half the inverse variances
        (a Gaussian negative log-likelihood up to a constant); 0 on virtual channels.

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
    weights: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    prior_std: float,
    axis_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`masked_squared_error` (with ``weights``) + :func:`gaussian_kl_to_prior`."""
    return masked_squared_error(amplitudes, predicted, weights) + gaussian_kl_to_prior(mean, var, prior_std, axis_mask)


def gaussian_location_nll(
    mean: torch.Tensor, var: torch.Tensor, target: torch.Tensor, axis_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Negative log-likelihood of known locations under N(mean, diag(var)), up to a constant.

    ``0.5 * sum_axes((target - mean)^2 / var + log var)``, averaged over examples: the loss of a
    localizer trained on simulated spikes with known somas (it fits both the location and its
    uncertainty).

    Parameters
    ----------
    mean, var, target : torch.Tensor, shape (num_examples, num_axes)
    axis_mask : torch.Tensor | None, shape (num_axes,)
        1 for the axes included.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    nll = 0.5 * ((target - mean) ** 2 / var + torch.log(var))
    if axis_mask is not None:
        nll = nll * axis_mask
    return nll.sum(dim=1).mean()

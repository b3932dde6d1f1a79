"""Per-example refinement of the encoder's locations: the posterior mode under the decoder (pure torch).

The encoder is amortized: one network maps every waveform to its posterior, and what it returns is
smoothed over the spikes it was trained on (on a probe's regular grid it leans towards the rows of
channels). :func:`refine_locations` starts from the encoder's mean and takes a few damped Gauss-Newton
(Levenberg-Marquardt) steps per example on

``E(s) = sum_k w_k (a_k - f_k(s))^2 / 2 + |s|^2 / (2 prior_std^2)``

the negative log posterior of the source ``s`` (relative to the centre channel) under the model's
amplitude model ``f`` (its coefficients solved in closed form at every ``s``), Gaussian channel noise
``w_k = 1 / (noise^2 + (fraction * a_k)^2)`` (:func:`~si_amortized.localization.model.amplitude_weights`)
and the N(0, prior_std^2) prior, as a point-source fit (``monopolar_triangulation``) does, but from the
encoder's start and with its prior. A step is kept only where it lowers ``E``: the refined location is
never less probable than the encoder's. Semi-amortized inference in the sense of Kim et al. (2018).
"""

from __future__ import annotations

import functools
import math

import torch

from .model import AMPLITUDE_MODELS, VaeLocalizer, amplitude_weights

#: Step (um) of the finite differences giving the Jacobian of the residuals.
JACOBIAN_STEP_UM = 0.05


def amplitude_decoder(model: VaeLocalizer, amplitude_model: str | None = None):
    """The decoder the refinement fits: the model's own, or another amplitude model on the model's slots.

    Parameters
    ----------
    model : VaeLocalizer
    amplitude_model : "exponential" | "monopole" | "dipole" | "learned" | None, default: None
        None: ``model.decode``. Another one: ``model.decode`` under that amplitude model (coefficients in closed
        form at each location; ``"exponential"`` takes the model's decay length, ``"learned"`` its profile, which
        only a model trained with it has).

    Returns
    -------
    callable
        ``decode(locations, amplitudes=, weights=) -> predicted``, shapes as :meth:`VaeLocalizer.decode`.

    Raises
    ------
    ValueError
        ``"learned"`` for a model without a learned profile, or an unknown name.
    """
    if amplitude_model is None or amplitude_model == model.amplitude_model:
        return model.decode
    if amplitude_model not in AMPLITUDE_MODELS:
        raise ValueError(f"amplitude_model must be None or one of {AMPLITUDE_MODELS}, not {amplitude_model!r}")
    if amplitude_model == "learned":
        raise ValueError(f"refining with the learned amplitude profile needs a model trained with it, not a "
                         f"{model.amplitude_model!r} one")
    return functools.partial(model.decode, amplitude_model=amplitude_model)


def log_posterior_residuals(model: VaeLocalizer, locations: torch.Tensor, amplitudes: torch.Tensor,
                            weights: torch.Tensor, prior_std_um: float,
                            root_half_weights: torch.Tensor | None = None, decode=None) -> torch.Tensor:
    """Residuals whose squared norm is ``E(s)`` (see the module docstring).

    Parameters
    ----------
    model : VaeLocalizer
    locations : torch.Tensor, shape (num_examples, 3)
        Sources relative to each example's centre channel (x, y, z).
    amplitudes, weights : torch.Tensor, shape (num_examples, num_slots)
        Observed amplitudes and their inverse variances ``w`` (0 on virtual or unobserved channels).
    prior_std_um : float
    root_half_weights : torch.Tensor | None, shape (num_examples, num_slots)
        ``sqrt(w / 2)`` when already at hand (the refinement evaluates the same examples many times).
    decode : callable | None, default: None
        The decoder (:func:`amplitude_decoder`); None: ``model.decode``.

    Returns
    -------
    torch.Tensor, shape (num_examples, num_slots + 3)
        ``sqrt(w / 2) (a - f(s))`` then ``s / (sqrt(2) prior_std)`` on the model's free axes (0 on the others).
    """
    predicted = (model.decode if decode is None else decode)(locations, amplitudes=amplitudes, weights=weights)
    prior = locations * model.free_axes / (math.sqrt(2.0) * prior_std_um)
    if root_half_weights is None:
        root_half_weights = (0.5 * weights).sqrt()
    return torch.cat([root_half_weights * (amplitudes - predicted), prior], dim=1)


def refine_locations(
    model: VaeLocalizer,
    amplitudes: torch.Tensor,
    observed: torch.Tensor,
    init: torch.Tensor,
    steps: int,
    noise_uv: float,
    noise_fraction: float = 0.1,
    prior_std_um: float = 80.0,
    damping: float = 1e-3,
    amplitude_model: str | None = None,
) -> torch.Tensor:
    """Damped Gauss-Newton steps from ``init`` towards each example's posterior mode.

    Parameters
    ----------
    model : VaeLocalizer
        Its amplitude model (and learned decay length or profile) is the decoder used.
    amplitudes, observed : torch.Tensor, shape (num_examples, num_slots)
    init : torch.Tensor, shape (num_examples, 3)
        Starting locations (the encoder's means), relative to each example's centre channel.
    steps : int
        Gauss-Newton steps (0 returns ``init``).
    noise_uv : float
        Noise standard deviation of a channel's amplitude (uV).
    noise_fraction : float, default: 0.1
        Amplitude-dependent part of the standard deviation.
    prior_std_um : float, default: 80.0
    damping : float, default: 1e-3
        Initial Levenberg-Marquardt damping, relative to the mean diagonal of ``J^T J``; divided by 3 after an
        accepted step, multiplied by 10 after a rejected one (per example).
    amplitude_model : str | None, default: None
        The amplitude model ``f`` fitted (:func:`amplitude_decoder`); None: the model's own.

    Returns
    -------
    torch.Tensor, shape (num_examples, 3)
        Locations with ``E`` at most that of ``init`` for every example; the fixed axes (``model.free_axes``
        0, e.g. x on a single column) keep their initial value.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    if noise_uv is None or not (math.isfinite(noise_uv) and noise_uv > 0):
        raise ValueError(f"refining locations needs the noise level (noise_uv > 0), got {noise_uv}")
    decode = amplitude_decoder(model, amplitude_model)
    locations = init.detach().clone()
    if steps == 0 or locations.shape[0] == 0:
        return locations
    free = model.free_axes.to(locations.dtype)
    weights = amplitude_weights(amplitudes, observed, noise_uv, noise_fraction)
    n = locations.shape[0]
    eye = torch.eye(3, dtype=locations.dtype, device=locations.device)
    shifts = torch.cat([torch.zeros_like(eye[:1]), JACOBIAN_STEP_UM * eye * free])  # (4, 3)
    stacked_amplitudes, stacked_weights = amplitudes.repeat(4, 1), weights.repeat(4, 1)
    stacked_roots = (0.5 * stacked_weights).sqrt()

    def residuals_and_jacobian(s):
        """Residuals at ``s`` and their forward-difference Jacobian, from one evaluation of 4 x n sources."""
        values = log_posterior_residuals(model, (s[None] + shifts[:, None]).reshape(4 * n, 3), stacked_amplitudes,
                                         stacked_weights, prior_std_um, stacked_roots, decode).reshape(4, n, -1)
        jacobian = ((values[1:] - values[0]) / JACOBIAN_STEP_UM).permute(1, 2, 0)  # (n, m, 3), 0 on fixed axes
        return values[0], jacobian

    fixed = torch.diag(1.0 - free)  # keeps the normal matrix invertible on the fixed axes
    with torch.no_grad():
        current, jacobian = residuals_and_jacobian(locations)
        energy = (current**2).sum(dim=1)
        lam = torch.full_like(energy, damping)
        for _ in range(steps):
            normal = jacobian.transpose(1, 2) @ jacobian
            gradient = (jacobian.transpose(1, 2) @ current[..., None])[..., 0]
            scale = normal.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-12)
            system = normal + (lam * scale)[:, None, None] * eye + fixed
            trial = locations - torch.linalg.solve(system, gradient) * free
            # the trial's Jacobian comes with its residuals: where the step is kept, the next step needs it
            trial_residuals, trial_jacobian = residuals_and_jacobian(trial)
            trial_energy = (trial_residuals**2).sum(dim=1)
            better = torch.isfinite(trial_energy) & (trial_energy < energy)
            locations = torch.where(better[:, None], trial, locations)
            current = torch.where(better[:, None], trial_residuals, current)
            jacobian = torch.where(better[:, None, None], trial_jacobian, jacobian)
            energy = torch.where(better, trial_energy, energy)
            lam = torch.where(better, lam / 3.0, lam * 10.0)
    return locations

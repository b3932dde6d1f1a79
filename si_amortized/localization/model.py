"""Inference network and the amplitude models of a point source (pure torch).

The decoder explains a spike's channel amplitudes by a source at the encoder's location. Each
amplitude model is a small basis of functions of the source-to-channel geometry whose
coefficients are either solved in closed form per example (weighted least squares, as
monopolar triangulation does for its amplitude) or, as in the paper, a learned ``log a`` per
training example:

- ``"exponential"`` (the paper): ``a * exp(-r / decay_length_um)``;
- ``"monopole"``: ``a / r`` (a point current source in a homogeneous medium);
- ``"dipole"``: ``a / r + p . (c - s) / r^3``, a monopole with a dipole correction (4 coefficients);
- ``"learned"``: ``a * f(r)`` with ``f`` a monotone decreasing profile, piecewise log-linear on
  fixed knots, whose slopes are learned with the encoder on the recording.
"""

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


AMPLITUDE_MODELS = ("exponential", "monopole", "dipole", "learned")
#: Knots (um) of the ``"learned"`` profile; beyond the last one the last slope continues.
PROFILE_KNOTS_UM = (0.0, 10.0, 20.0, 30.0, 45.0, 60.0, 80.0, 110.0, 150.0)


def source_distances(locations: torch.Tensor, offsets: torch.Tensor, softening_um: float = 0.0):
    """Channel-minus-source vectors and distances.

    Parameters
    ----------
    locations : torch.Tensor, shape (num_examples, 3)
        Source x, y (relative to the centre channel) and z (distance from the probe plane).
    offsets : torch.Tensor, shape (num_slots, 2)
    softening_um : float, default: 0.0
        Added in quadrature to every distance (the ``1 / r`` models use 1 um, so that they stay finite
        on a contact).

    Returns
    -------
    delta : torch.Tensor, shape (num_examples, num_slots, 3)
        ``(channel - source)`` in x, y and ``-z``.
    r : torch.Tensor, shape (num_examples, num_slots)
    """
    planar = offsets[None, :, :] - locations[:, None, :2]
    z = locations[:, None, 2].expand(-1, offsets.shape[0])
    delta = torch.cat([planar, -z[..., None]], dim=2)
    return delta, source_distance(locations, offsets, softening_um)


def source_distance(locations: torch.Tensor, offsets: torch.Tensor, softening_um: float = 0.0) -> torch.Tensor:
    """The distances of :func:`source_distances` alone, shape (num_examples, num_slots), without the vectors.

    Written per axis (no (num_examples, num_slots, 3) temporaries): the amplitude models but the dipole need
    only ``r``, and the refinement evaluates them several times per example.
    """
    r2 = offsets[None, :, 0] - locations[:, 0:1]
    r2 = r2 * r2
    dy = offsets[None, :, 1] - locations[:, 1:2]
    r2 = r2 + dy * dy
    r2 = r2 + (locations[:, 2:3] ** 2 + (softening_um**2 + 1e-12))
    return torch.sqrt(r2)


def monotone_profile(r: torch.Tensor, slope_params: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """``f(r) = exp(-integral of the slope)``: piecewise log-linear, decreasing, ``f(0) = 1``.

    Parameters
    ----------
    r : torch.Tensor, any shape
    slope_params : torch.Tensor, shape (num_knots,)
        Unconstrained; the slope of ``-log f`` on ``[knots[k], knots[k + 1])`` is ``softplus(slope_params[k])``
        (the last one continues beyond the last knot).
    knots : torch.Tensor, shape (num_knots,)
        Increasing, starting at 0.

    Returns
    -------
    torch.Tensor, same shape as ``r``
    """
    slopes = nn.functional.softplus(slope_params)
    upper = torch.cat([knots[1:], knots.new_tensor([float("inf")])])
    covered = torch.clamp(torch.minimum(r[..., None], upper) - knots, min=0.0)  # length of r in each piece
    return torch.exp(-(covered * slopes).sum(dim=-1))


def amplitude_basis(
    locations: torch.Tensor,
    offsets: torch.Tensor,
    amplitude_model: str,
    decay_length_um: torch.Tensor | float = 28.0,
    profile: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Basis functions of an amplitude model on the neighbourhood's slots.

    Parameters
    ----------
    locations : torch.Tensor, shape (num_examples, 3)
    offsets : torch.Tensor, shape (num_slots, 2)
    amplitude_model : "exponential" | "monopole" | "dipole" | "learned"
    decay_length_um : float or 0-d torch.Tensor, default: 28.0
        Decay length of ``"exponential"``.
    profile : (slope_params, knots) | None
        The ``"learned"`` profile (see :func:`monotone_profile`).

    Returns
    -------
    torch.Tensor, shape (num_examples, num_slots, num_coefficients)
        1 coefficient (the source amplitude ``a``) for all models but ``"dipole"`` (4: ``a, px, py, pz``).
    """
    if amplitude_model == "dipole":
        delta, r = source_distances(locations, offsets, softening_um=1.0)
        return torch.cat([(1.0 / r)[..., None], delta / (r**3)[..., None]], dim=2)
    r = source_distance(locations, offsets, softening_um=1.0 if amplitude_model == "monopole" else 0.0)
    if amplitude_model == "exponential":
        return torch.exp(-r / decay_length_um)[..., None]
    if amplitude_model == "monopole":
        return (1.0 / r)[..., None]
    if amplitude_model == "learned":
        if profile is None:
            raise ValueError("the learned amplitude model needs its profile (slope_params, knots)")
        return monotone_profile(r, *profile)[..., None]
    raise ValueError(f"amplitude_model must be one of {AMPLITUDE_MODELS}, not {amplitude_model!r}")


def least_squares_coefficients(
    basis: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, ridge: float = 1e-6
) -> torch.Tensor:
    """Weighted least-squares coefficients of each example, in closed form.

    Minimises ``sum_k weights[n, k] * (target[n, k] - basis[n, k] @ c[n])^2``; a single
    coefficient (a source amplitude) is kept >= 0.

    Parameters
    ----------
    basis : torch.Tensor, shape (num_examples, num_slots, num_coefficients)
    target : torch.Tensor, shape (num_examples, num_slots)
    weights : torch.Tensor, shape (num_examples, num_slots)
        Non-negative (0 on virtual channels).
    ridge : float, default: 1e-6
        Relative Tikhonov term (times the mean diagonal of the normal matrix) for a well-posed solve.

    Returns
    -------
    torch.Tensor, shape (num_examples, num_coefficients)
    """
    if basis.shape[2] == 1:  # a source amplitude: two weighted sums, no batched matrix products
        b = basis[..., 0]
        wb = weights * b
        coef = (wb * target).sum(dim=1) / ((wb * b).sum(dim=1) * (1.0 + ridge) + 1e-30)
        return coef.clamp_min(0.0)[:, None]
    wb = basis * weights[..., None]
    normal = wb.transpose(1, 2) @ basis  # (n, c, c)
    rhs = (wb * target[..., None]).sum(dim=1)  # (n, c)
    scale = normal.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-30)
    eye = torch.eye(basis.shape[2], dtype=basis.dtype, device=basis.device)
    return torch.linalg.solve(normal + ridge * scale[:, None, None] * eye, rhs[..., None])[..., 0]


def amplitude_weights(
    amplitudes: torch.Tensor, observed: torch.Tensor, noise_uv: float, noise_fraction: float
) -> torch.Tensor:
    """Inverse variances of the amplitudes: ``observed / (noise_uv^2 + (noise_fraction * amplitude)^2)``.

    Parameters
    ----------
    amplitudes, observed : torch.Tensor, shape (num_examples, num_slots)
    noise_uv : float
        Noise standard deviation of a channel's amplitude (microvolts).
    noise_fraction : float
        Amplitude-dependent part of the standard deviation (model mismatch grows with the signal).

    Returns
    -------
    torch.Tensor, shape (num_examples, num_slots)
    """
    return observed / (noise_uv**2 + (noise_fraction * amplitudes) ** 2)


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
        h = self.body(x) if self.training else self._folded_body(x)
        return self.mean_head(h), nn.functional.softplus(self.var_head(h)) + 1e-6

    def folded_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Weights and biases of the body with each eval-mode BatchNorm folded into its Linear layer.

        ``BatchNorm(W x + b) = s * (W x + b - mu) + beta`` with ``s = gamma / sqrt(var + eps)``, so the pair is
        one affine map ``(s[:, None] * W) x + s * (b - mu) + beta``: inference skips a pass over the
        activations. Exact up to float rounding.

        Returns
        -------
        list of (weight, bias)
            One per hidden layer: weight (out, in), bias (out,).
        """
        layers = []
        modules = list(self.body)
        for linear, norm in zip(modules[0::3], modules[1::3]):
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            layers.append((linear.weight * scale[:, None], (linear.bias - norm.running_mean) * scale + norm.bias))
        return layers

    def _folded_body(self, x: torch.Tensor) -> torch.Tensor:
        for weight_t, bias in self._cached_folded_layers():
            x = torch.relu_(torch.addmm(bias, x, weight_t))
        return x

    def _cached_folded_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """:meth:`folded_layers` with each weight transposed, made again only when the body changed.

        Cached under ``no_grad`` only; the key holds each parameter's and statistic's identity, storage, device,
        dtype and in-place version counter (every optimizer step, ``load_state_dict`` and ``.to()`` change one).
        """
        if torch.is_grad_enabled():
            return [(weight.T, bias) for weight, bias in self.folded_layers()]
        tensors = [t for m in self.body for t in (*m.parameters(recurse=False), *m.buffers(recurse=False))]
        key = tuple((id(t), t.data_ptr(), t.device, t.dtype, t._version) for t in tensors)
        cache = self.__dict__.get("_folded_cache")
        if cache is None or cache[0] != key:
            cache = (key, [(weight.T.contiguous(), bias) for weight, bias in self.folded_layers()])
            self.__dict__["_folded_cache"] = cache
        return cache[1]


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
        Decay length of the ``"exponential"`` model (its initial value when ``learn_decay_length``).
    amplitude_model : "exponential" | "monopole" | "dipole" | "learned", default: "exponential"
        See the module docstring.
    learn_decay_length : bool, default: False
        Train the exponential model's decay length with the encoder (one value per recording).
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
        amplitude_model: str = "exponential",
        learn_decay_length: bool = False,
    ):
        super().__init__()
        if amplitude_model not in AMPLITUDE_MODELS:
            raise ValueError(f"amplitude_model must be one of {AMPLITUDE_MODELS}, not {amplitude_model!r}")
        self.amplitude_model = amplitude_model
        self.learn_decay_length = bool(learn_decay_length)
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
        # per-axis factor on the posterior standard deviation, set by calibration on held-out data (1: none)
        self.register_buffer("posterior_std_scale", torch.ones(3))
        # per-axis floor (um) added in quadrature: the part of the error the posterior does not see (0: none)
        self.register_buffer("posterior_std_floor", torch.zeros(3))
        log_decay = torch.tensor(float(np.log(self.decay_length_um)))
        if self.learn_decay_length:
            self.log_decay_length = nn.Parameter(log_decay)
        else:
            self.register_buffer("log_decay_length", log_decay)
        if amplitude_model == "learned":
            knots = torch.tensor(PROFILE_KNOTS_UM)
            self.register_buffer("profile_knots", knots)
            # starts as the exponential profile: slope 1 / decay_length on every piece
            self.profile_slopes = nn.Parameter(torch.full_like(knots, self._initial_slope_param()))
        per_slot = self.num_samples
        if self.temporal_components:
            per_slot = self.temporal_components
            basis = torch.eye(self.num_samples)[: self.temporal_components]  # replaced by training data
            self.register_buffer("temporal_basis", basis)
        self.encoder = LocationEncoder(self.num_slots * (per_slot + 1), self.hidden_sizes)

    def _initial_slope_param(self) -> float:
        slope = 1.0 / self.decay_length_um
        return float(np.log(np.expm1(slope)))

    def reset_amplitude_model(self) -> None:
        """Put the learned parts of the amplitude model (decay length, profile) back to their initial values."""
        with torch.no_grad():
            self.log_decay_length.fill_(float(np.log(self.decay_length_um)))
            if self.amplitude_model == "learned":
                self.profile_slopes.fill_(self._initial_slope_param())

    def basis(self, locations: torch.Tensor, amplitude_model: str | None = None) -> torch.Tensor:
        """:func:`amplitude_basis` on this model's slots, shape (num_examples, num_slots, num_coefficients).

        ``amplitude_model``: None, this model's own; another one takes this model's decay length (and its learned
        profile, which only a ``"learned"`` model has)."""
        name = self.amplitude_model if amplitude_model is None else amplitude_model
        profile = (self.profile_slopes, self.profile_knots) if self.amplitude_model == "learned" else None
        return amplitude_basis(locations, self.offsets, name, self.log_decay_length.exp(), profile)

    def amplitude_profile(self, r_um: np.ndarray) -> np.ndarray:
        """Amplitude versus distance of a unit source, ``f(r)`` with ``f(0) = 1`` (``1 / r`` models: ``1 / max(r, 1)``).

        Parameters
        ----------
        r_um : np.ndarray, shape (num_distances,)

        Returns
        -------
        np.ndarray, shape (num_distances,)
        """
        r = torch.as_tensor(np.asarray(r_um, dtype="float32"))
        with torch.no_grad():
            if self.amplitude_model == "exponential":
                out = torch.exp(-r / self.log_decay_length.exp())
            elif self.amplitude_model == "learned":
                out = monotone_profile(r, self.profile_slopes, self.profile_knots)
            else:
                out = 1.0 / r.clamp_min(1.0)
        return out.cpu().numpy()

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

    def encoder_input(self, waveforms: torch.Tensor, observed: torch.Tensor, amplitudes: torch.Tensor,
                      projected: bool = False) -> torch.Tensor:
        """Flattened encoder input, shape (num_examples, num_slots * (P + 1)), P = samples or temporal components.

        ``projected``: ``waveforms`` already holds the temporal components, shape (num_examples, num_slots, P).
        """
        if projected:
            if waveforms.shape[-1] != self.temporal_components:
                raise ValueError(f"projected waveforms have {waveforms.shape[-1]} components, the model "
                                 f"{self.temporal_components}")
        elif self.temporal_components:  # project first (linear), then scale the smaller array
            waveforms = waveforms @ self.temporal_basis.T
        waveforms = self.scaled_waveforms(waveforms, amplitudes)
        return torch.cat([waveforms.flatten(1), observed], dim=1)

    def forward(
        self, waveforms: torch.Tensor, observed: torch.Tensor, amplitudes: torch.Tensor, projected: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of the source relative to the centre channel.

        Parameters
        ----------
        waveforms : torch.Tensor, shape (num_examples, num_slots, num_samples)
            Or, with ``projected``, their temporal components, shape (num_examples, num_slots, P).
        observed : torch.Tensor, shape (num_examples, num_slots)
        amplitudes : torch.Tensor, shape (num_examples, num_slots)
        projected : bool, default: False

        Returns
        -------
        mean : torch.Tensor, shape (num_examples, 3)
        var : torch.Tensor, shape (num_examples, 3)
        """
        mean, var = self.encoder(self.encoder_input(waveforms, observed, amplitudes, projected))
        return mean * self.free_axes, var * self.posterior_std_scale**2 + self.posterior_std_floor**2

    def decode(
        self,
        locations: torch.Tensor,
        amplitudes: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
        log_a: torch.Tensor | None = None,
        amplitude_model: str | None = None,
    ) -> torch.Tensor:
        """Amplitudes the model predicts on the slots for sources at ``locations``.

        Parameters
        ----------
        locations : torch.Tensor, shape (num_examples, 3)
        amplitudes, weights : torch.Tensor, shape (num_examples, num_slots) | None
            Observed amplitudes and their weights: the coefficients are solved in closed form
            (:func:`least_squares_coefficients`).
        log_a : torch.Tensor, shape (num_examples,) | None
            Instead, the log source amplitude of each example (the paper's per-example parameter;
            single-coefficient models only).
        amplitude_model : str | None, default: None
            Another amplitude model than the model's own (see :meth:`basis`).

        Returns
        -------
        torch.Tensor, shape (num_examples, num_slots)
        """
        basis = self.basis(locations, amplitude_model)
        if log_a is not None:
            if basis.shape[2] != 1:
                raise ValueError(f"a per-example log amplitude needs a one-coefficient model, not {self.amplitude_model!r}")
            return basis[..., 0] * torch.exp(log_a)[:, None]
        if amplitudes is None or weights is None:
            raise ValueError("decode needs the observed amplitudes and weights, or log_a")
        coefficients = least_squares_coefficients(basis, amplitudes, weights)
        return (basis * coefficients[:, None, :]).sum(dim=2)

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
            amplitude_model=self.amplitude_model,
            learn_decay_length=self.learn_decay_length,
        )

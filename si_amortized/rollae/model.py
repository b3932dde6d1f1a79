"""Roll-AE network: a Deep-Set encoder over all cyclic time shifts (and layout symmetries) of a well.

The encoder MLP ``g~`` is applied to every element ``g . roll(x, i)`` of the transformation set of the
input ``x`` of shape ``(num_electrodes, num_bins)``; the outputs are averaged into one embedding, which
is therefore exactly invariant to cyclic shifts and layout symmetries when the full set is used.
The first (linear) layer over all ``D`` shifts is a circular correlation of each hidden unit's weights
with the input, computed with FFTs; the rest of the MLP runs on the ``(batch, G, D, hidden)`` tensor.

Pure torch; never imports spikeinterface.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["RollAENet", "first_layer_fft", "first_layer_direct"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh}


def first_layer_fft(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, symmetries: torch.Tensor | None) -> torch.Tensor:
    """Linear layer applied to every cyclic shift of every symmetry-permuted input, via FFT.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, num_electrodes, num_bins)
    weight : torch.Tensor, shape (hidden, num_electrodes, num_bins)
    bias : torch.Tensor, shape (hidden,)
    symmetries : torch.Tensor | None, shape (num_symmetries, num_electrodes)

    Returns
    -------
    torch.Tensor, shape (batch, num_symmetries, num_bins, hidden)
        ``out[b, g, i] = weight.flatten(1) @ roll(x[b, symmetries[g]], i, -1).flatten() + bias``.
    """
    d = x.shape[-1]
    xg = x[:, None] if symmetries is None else x[:, symmetries]  # (B, G, E, D)
    fx = torch.fft.rfft(xg, dim=-1)  # (B, G, E, F)
    fw = torch.fft.rfft(weight, dim=-1)  # (H, E, F)
    prod = torch.einsum("hef,bgef->bghf", fw, torch.conj(fx))
    out = torch.fft.irfft(prod, n=d, dim=-1)  # (B, G, H, D)
    return out.transpose(-1, -2) + bias


def first_layer_direct(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, symmetries: torch.Tensor | None, shifts: torch.Tensor
) -> torch.Tensor:
    """Same as :func:`first_layer_fft` on a subset of shifts by explicit rolling (cheap for few shifts).

    Parameters
    ----------
    weight : torch.Tensor, shape (hidden, num_electrodes, width)
        ``width <= num_bins``: weights beyond ``width`` are zero, so only the first ``width`` bins of each
        rolled input are gathered.

    Returns
    -------
    torch.Tensor, shape (batch, num_symmetries, num_shifts, hidden)
    """
    d = x.shape[-1]
    width = weight.shape[-1]
    xg = x[:, None] if symmetries is None else x[:, symmetries]  # (B, G, E, D)
    idx = (torch.arange(width, device=x.device)[None, :] - shifts.to(x.device)[:, None]) % d  # (S, width)
    rolled = xg[..., idx]  # (B, G, E, S, width)
    rolled = rolled.transpose(2, 3).flatten(3)  # (B, G, S, E*width)
    return rolled @ weight.flatten(1).T + bias


def _mlp(sizes: list[int], activation: str, final_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_activation:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class RollAENet(nn.Module):
    """Roll-AE: set encoder over cyclic shifts (and layout symmetries), MLP decoder.

    Parameters
    ----------
    num_electrodes : int
    num_bins : int
        ``D``, the number of time bins of a well.
    embedding_dim : int
        ``k``.
    encoder_hidden : tuple of int, default: (256, 128)
        Hidden sizes of the encoder MLP (the paper: ``(4k, 2k)``).
    decoder_hidden : tuple of int, default: (128, 256)
        Hidden sizes of the decoder MLP (the paper: ``(2k, 4k)``).
    symmetries : torch.Tensor | None, shape (num_symmetries, num_electrodes)
        Electrode permutations forming a group (row 0 the identity). ``None``: time shifts only.
    receptive_field : int | None, default: None
        If given, the first-layer weights are restricted to this many consecutive bins (a local kernel;
        still an MLP on each shifted element). ``None``: the full ``num_bins`` (the paper).
    activation : {"relu", "gelu", "elu", "tanh"}, default: "relu"
    output_activation : {"none", "softplus"}, default: "none"
        Applied to the decoder output: ``"softplus"`` gives positive rates (for a Poisson loss).
    """

    def __init__(
        self,
        num_electrodes: int,
        num_bins: int,
        embedding_dim: int,
        encoder_hidden: tuple[int, ...] = (256, 128),
        decoder_hidden: tuple[int, ...] = (128, 256),
        symmetries: torch.Tensor | None = None,
        receptive_field: int | None = None,
        activation: str = "relu",
        output_activation: str = "none",
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if output_activation not in ("none", "softplus"):
            raise ValueError(f"output_activation must be 'none' or 'softplus', got {output_activation!r}")
        self.output_activation = output_activation
        if len(encoder_hidden) < 1:
            raise ValueError("encoder_hidden needs at least one layer (the FFT first layer)")
        self.num_electrodes = int(num_electrodes)
        self.num_bins = int(num_bins)
        self.embedding_dim = int(embedding_dim)
        width = self.num_bins if receptive_field is None else int(min(receptive_field, num_bins))
        if width < 1:
            raise ValueError("receptive_field must be >= 1")
        self.receptive_field = width
        h1 = int(encoder_hidden[0])
        bound = 1.0 / math.sqrt(self.num_electrodes * width)
        self.first_weight = nn.Parameter(torch.empty(h1, self.num_electrodes, width).uniform_(-bound, bound))
        self.first_bias = nn.Parameter(torch.empty(h1).uniform_(-bound, bound))
        self.first_activation = _ACTIVATIONS[activation]()
        self.encoder_rest = _mlp([h1, *[int(h) for h in encoder_hidden[1:]], self.embedding_dim], activation, False)
        self.decoder = _mlp(
            [self.embedding_dim, *[int(h) for h in decoder_hidden], self.num_electrodes * self.num_bins], activation, False
        )
        if symmetries is None:
            symmetries = torch.arange(self.num_electrodes)[None, :]
        symmetries = torch.as_tensor(symmetries, dtype=torch.long)
        if symmetries.ndim != 2 or symmetries.shape[1] != self.num_electrodes:
            raise ValueError(f"symmetries must have shape (num_symmetries, {self.num_electrodes}), got {tuple(symmetries.shape)}")
        self.register_buffer("symmetries", symmetries)

    @property
    def full_weight(self) -> torch.Tensor:
        """First-layer weights zero-padded to ``(hidden, num_electrodes, num_bins)``."""
        pad = self.num_bins - self.receptive_field
        if pad == 0:
            return self.first_weight
        return nn.functional.pad(self.first_weight, (0, pad))

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != self.num_electrodes or x.shape[2] != self.num_bins:
            raise ValueError(
                f"expected wells of shape (batch, {self.num_electrodes}, {self.num_bins}), got {tuple(x.shape)}"
            )

    def element_features(self, x: torch.Tensor, shifts: torch.Tensor | None = None, method: str = "auto") -> torch.Tensor:
        """Encoder MLP on every (symmetry, shift) element, before aggregation.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, num_electrodes, num_bins)
        shifts : torch.Tensor | None, shape (num_shifts,)
            Shifts to use; ``None``: all ``num_bins`` shifts.
        method : {"auto", "fft", "direct"}, default: "auto"

        Returns
        -------
        torch.Tensor, shape (batch, num_symmetries, num_shifts, embedding_dim)
        """
        self._check(x)
        sym = self.symmetries
        if method == "auto":
            n_shifts = self.num_bins if shifts is None else shifts.numel()
            # explicit rolling costs ~ n_shifts * width, the FFT ~ num_bins * (log num_bins + a constant)
            method = "direct" if n_shifts * self.receptive_field <= 8 * self.num_bins * max(1.0, math.log2(self.num_bins)) else "fft"
        if method == "fft":
            h = first_layer_fft(x, self.full_weight, self.first_bias, sym)
            if shifts is not None:
                h = h[:, :, shifts.to(h.device)]
        elif method == "direct":
            if shifts is None:
                shifts = torch.arange(self.num_bins, device=x.device)
            h = first_layer_direct(x, self.first_weight, self.first_bias, sym, shifts)
        else:
            raise ValueError(f"method must be 'auto', 'fft' or 'direct', got {method!r}")
        return self.encoder_rest(self.first_activation(h))

    def encode(self, x: torch.Tensor, shifts: torch.Tensor | None = None, method: str = "auto") -> torch.Tensor:
        """Mean-aggregated embedding, shape ``(batch, embedding_dim)``; exactly invariant when ``shifts is None``."""
        return self.element_features(x, shifts=shifts, method=method).mean(dim=(1, 2))

    def pooled_features(self, x: torch.Tensor, shifts: torch.Tensor | None = None, method: str = "auto") -> torch.Tensor:
        """Every encoder layer's activations mean-aggregated over the set, concatenated.

        The same set encoder as :meth:`encode`, read out before the last linear layer as well: the
        hidden layers' means are as exactly invariant as the embedding and keep more of the input
        than the reconstruction objective asks the ``k``-dim bottleneck to keep.

        Returns
        -------
        torch.Tensor, shape (batch, sum(encoder_hidden) + embedding_dim)
        """
        self._check(x)
        sym = self.symmetries
        if method == "auto" or method == "fft":
            h = first_layer_fft(x, self.full_weight, self.first_bias, sym)
            if shifts is not None:
                h = h[:, :, shifts.to(h.device)]
        else:
            if shifts is None:
                shifts = torch.arange(self.num_bins, device=x.device)
            h = first_layer_direct(x, self.first_weight, self.first_bias, sym, shifts)
        h = self.first_activation(h)
        pooled = [h.mean(dim=(1, 2))]
        for layer in self.encoder_rest:
            h = layer(h)
            if not isinstance(layer, nn.Linear) or layer is self.encoder_rest[-1]:
                pooled.append(h.mean(dim=(1, 2)))
        return torch.cat(pooled, dim=1)

    def encode_plain(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder MLP on ``x`` itself (no shifts, no symmetries): a standard autoencoder's encoder."""
        self._check(x)
        h = x[..., : self.receptive_field].flatten(1) @ self.first_weight.flatten(1).T + self.first_bias
        return self.encoder_rest(self.first_activation(h))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder MLP: ``(batch, embedding_dim) -> (batch, num_electrodes, num_bins)`` (then the output activation)."""
        out = self.decoder(z).view(z.shape[0], self.num_electrodes, self.num_bins)
        return nn.functional.softplus(out) if self.output_activation == "softplus" else out

    def forward(self, x: torch.Tensor, shifts: torch.Tensor | None = None, method: str = "auto"):
        """Return ``(embedding, reconstruction)``."""
        z = self.encode(x, shifts=shifts, method=method)
        return z, self.decode(z)

"""Symmetric CLIP (InfoNCE) loss between the two modalities (pure torch, outside the model)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["clip_loss", "label_loss", "retrieval_accuracy"]


def clip_loss(z_acg: torch.Tensor, z_wf: torch.Tensor, temperature: float | torch.Tensor = 0.5) -> torch.Tensor:
    """Symmetric CLIP loss (NEMO eq. 1).

    Parameters
    ----------
    z_acg, z_wf : torch.Tensor, shape (batch, dim)
        L2-normalized projections; row ``i`` of each comes from the same unit.
    temperature : float | torch.Tensor, default: 0.5

    Returns
    -------
    torch.Tensor
        Scalar: mean of the ACG->waveform and waveform->ACG cross-entropies of matching the right pair.
    """
    if z_acg.shape != z_wf.shape or z_acg.ndim != 2:
        raise ValueError("z_acg and z_wf must both have shape (batch, dim)")
    logits = z_acg @ z_wf.T / temperature
    target = torch.arange(z_acg.shape[0], device=z_acg.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a classification head over the labelled units of a batch (label -1: unlabelled).

    Parameters
    ----------
    logits : torch.Tensor, shape (batch, num_classes)
    labels : torch.Tensor, shape (batch,)
        Class index per unit, -1 for units without a label.

    Returns
    -------
    torch.Tensor
        Scalar: mean cross-entropy over the labelled units; 0 (with a gradient path) when none is labelled.
    """
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError("logits must have shape (batch, num_classes) and labels shape (batch,)")
    labelled = labels >= 0
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[labelled], labels[labelled])


@torch.no_grad()
def retrieval_accuracy(z_acg: torch.Tensor, z_wf: torch.Tensor) -> float:
    """Top-1 cross-modal retrieval accuracy, averaged over both directions."""
    sim = z_acg @ z_wf.T
    target = torch.arange(sim.shape[0], device=sim.device)
    a = (sim.argmax(dim=1) == target).float().mean()
    b = (sim.argmax(dim=0) == target).float().mean()
    return float(0.5 * (a + b))

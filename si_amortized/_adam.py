"""Adam (Kingma & Ba, 2015) for the localizer's training loops, without ``torch.optim``.

``torch.optim``'s optimizers import ``torch._dynamo`` the first time one is built or stepped (their methods
are wrapped to keep the compiler out), which took 1-2 s of the first training in a process on a 2-core CPU
(the trained VAE under ``correct_motion`` on five minutes of a drifting recording: 12.4 s with
``torch.optim.Adam``, 10.3-10.7 s with this one, each in a fresh process). This one does the same
arithmetic, in the same order, as ``torch.optim.Adam``'s single-tensor path (no weight decay, no AMSGrad), so
training gives the same weights (tested against it).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["Adam"]


class Adam:
    """Adam over a set of parameters: ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2`` and
    ``p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    Parameters
    ----------
    params : iterable of torch.Tensor
        Leaf tensors with ``requires_grad``; those whose ``grad`` is None at a step are left as they are.
    lr : float, default: 1e-3
    betas : tuple of float, default: (0.9, 0.999)
    eps : float, default: 1e-8
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("Adam got no parameters")
        if lr <= 0 or eps <= 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam needs lr > 0, eps > 0 and betas in [0, 1), got {lr}, {eps}, {betas}")
        self.lr, self.eps = float(lr), float(eps)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.steps = [0] * len(self.params)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (the next backward pass makes new ones)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad, m, v = p.grad, self.exp_avg[i], self.exp_avg_sq[i]
            self.steps[i] += 1
            t = float(self.steps[i])
            m.lerp_(grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            bias_correction1 = 1 - self.beta1**t
            bias_correction2_sqrt = (1 - self.beta2**t) ** 0.5
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-(self.lr / bias_correction1))

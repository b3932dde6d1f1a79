"""Torch helpers shared by the three wings: device resolution, seeding, batched prediction."""

from __future__ import annotations

import contextlib

import random
from typing import Callable

import numpy as np
import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Resolve a user device request.

    Parameters
    ----------
    device : str | torch.device | None, default: None
        ``None`` or ``"cpu"`` gives the CPU; ``"auto"`` gives CUDA when available, else the CPU;
        ``"cuda"``/``"cuda:N"`` requires CUDA.

    Returns
    -------
    torch.device
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        device_str = str(device)
    else:
        device_str = str(device).lower()
    if device_str == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if device_str.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for but CUDA is not available in this torch build "
            f"({torch.__version__}); use device='cpu' or device='auto'."
        )
    return torch.device(device_str)


def forked_workers_lose_cuda(device, n_jobs: int, pool_engine: str = "process", mp_context: str | None = None) -> bool:
    """Whether process workers would be forked from a process that has already started CUDA, with ``device`` on it.

    CUDA cannot start again in a forked child: such a worker has no GPU (the localizer's node then runs on the
    CPU there). Spawned or forkserver workers, threads and one job are not affected.

    Parameters
    ----------
    device : str | torch.device | None
        The device asked for (``"auto"``: CUDA when present).
    n_jobs : int
        Resolved number of workers.
    pool_engine : "process" | "thread", default: "process"
    mp_context : str | None, default: None
        None: the platform's default start method.

    Returns
    -------
    bool
    """
    import multiprocessing

    if n_jobs <= 1 or pool_engine != "process" or not torch.cuda.is_available():
        return False
    if resolve_device(device).type != "cuda":
        return False
    method = mp_context or multiprocessing.get_start_method(allow_none=False)
    return method == "fork" and torch.cuda.is_initialized()


def seed_everything(seed: int | None) -> torch.Generator:
    """Seed python, numpy and torch and return a torch generator seeded with ``seed``.

    Parameters
    ----------
    seed : int | None
        ``None`` draws a seed from numpy's entropy source.

    Returns
    -------
    torch.Generator
        A CPU generator for explicit sampling (shuffles, augmentations).
    """
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@torch.no_grad()
def predict_in_batches(
    fn: Callable[..., torch.Tensor | tuple[torch.Tensor, ...]],
    *arrays: np.ndarray,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Apply ``fn`` to aligned numpy arrays in batches and concatenate the numpy outputs.

    Parameters
    ----------
    fn : callable
        Takes one tensor per array (first axis = batch) and returns a tensor or a tuple of tensors.
    *arrays : np.ndarray
        Arrays sharing their first dimension ``(num_items, ...)``.
    batch_size : int, default: 4096
    device : torch.device | str | None, default: None
        Resolved with :func:`resolve_device`.
    dtype : torch.dtype, default: torch.float32
        Floating arrays are cast to this dtype; others are passed as they are.

    Returns
    -------
    np.ndarray | tuple of np.ndarray
        Outputs concatenated along the first axis.
    """
    device = resolve_device(device)
    n = arrays[0].shape[0]
    outputs: list = []
    for start in range(0, max(n, 1), batch_size):
        stop = min(start + batch_size, n)
        batch = []
        for a in arrays:
            t = torch.as_tensor(np.ascontiguousarray(a[start:stop]))
            if t.is_floating_point():
                t = t.to(dtype)
            batch.append(t.to(device))
        out = fn(*batch)
        out = out if isinstance(out, tuple) else (out,)
        outputs.append(tuple(o.detach().cpu().numpy() for o in out))
        if n == 0:
            break
    # one batch (a pipeline's chunk): its outputs as they are, without a concatenation's copy
    result = outputs[0] if len(outputs) == 1 else tuple(
        np.concatenate([o[i] for o in outputs], axis=0) for i in range(len(outputs[0])))
    return result[0] if len(result) == 1 else result


@contextlib.contextmanager
def torch_threads(num_threads: int | None):
    """Run with ``num_threads`` torch CPU threads (None: unchanged), restoring the previous number afterwards."""
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(max(1, int(num_threads)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)

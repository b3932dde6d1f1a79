"""Training NEMO on arrays (CLIP loss, augmentations, cosine warm restarts, validation-retrieval checkpoint)
and batched inference of unit representations."""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from .._torch import predict_in_batches, resolve_device, seed_everything
from .augment import augment_acg, augment_waveform
from .config import AugmentConfig, NemoConfig, TrainConfig
from .loss import clip_loss, retrieval_accuracy
from .model import NemoModel

__all__ = ["fit_nemo", "embed", "evaluate_retrieval"]


def _as_tensor(x: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)


@torch.no_grad()
def evaluate_retrieval(model: NemoModel, acg: torch.Tensor, waveform: torch.Tensor, loss_fn=clip_loss):
    """Validation CLIP loss and top-1 cross-modal retrieval accuracy (model in eval mode, no augmentation)."""
    was_training = model.training
    model.eval()
    z_acg, z_wf = model(acg, waveform)
    loss = float(loss_fn(z_acg, z_wf, model.temperature))
    acc = retrieval_accuracy(z_acg, z_wf)
    model.train(was_training)
    return loss, acc


def fit_nemo(
    acg_images: np.ndarray,
    waveforms: np.ndarray,
    *,
    config: NemoConfig | None = None,
    model: NemoModel | None = None,
    train_config: TrainConfig = TrainConfig(),
    augment_config: AugmentConfig = AugmentConfig(),
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    loss_fn: Callable = clip_loss,
    seed: int | None = 0,
    device: str | torch.device | None = "auto",
    progress_bar: bool = True,
) -> tuple[NemoModel, dict]:
    """Train (or continue training) a NEMO model with the symmetric CLIP loss.

    Parameters
    ----------
    acg_images : np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
    config : NemoConfig | None, default: None
        Architecture and preprocessing of a new model (ignored when ``model`` is given).
    model : NemoModel | None, default: None
        A model to continue training (it is copied; the input is not modified).
    train_config : TrainConfig
    augment_config : AugmentConfig
    validation : (acg_images, waveforms) | None, default: None
        Held-out units for the checkpoint choice; when None, ``train_config.val_fraction`` of the units is
        held out at random (no validation when that leaves fewer than 2 units).
    loss_fn : callable, default: clip_loss
        ``loss_fn(z_acg, z_wf, temperature) -> scalar``.
    seed : int | None, default: 0
    device : str | torch.device | None, default: "auto"
    progress_bar : bool, default: True

    Returns
    -------
    model : NemoModel
        In eval mode on the CPU, with the weights of the best validation retrieval (ties: lower val loss).
    history : dict
        ``epoch``, ``train_loss`` (per epoch), ``val_epoch``, ``val_loss``, ``val_retrieval``, ``best_epoch``.
    """
    acg_images = np.asarray(acg_images, dtype=np.float32)
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.ndim == 2:
        waveforms = waveforms[:, None, :]
    if acg_images.shape[0] != waveforms.shape[0]:
        raise ValueError("acg_images and waveforms must have the same number of units")
    device = resolve_device(device)
    generator = seed_everything(seed)
    model = NemoModel(config) if model is None else copy.deepcopy(model)
    model.to(device).train()
    n = acg_images.shape[0]
    if validation is None:
        perm = torch.randperm(n, generator=generator).numpy()
        n_val = int(round(train_config.val_fraction * n))
        n_val = n_val if n_val >= 2 and n - n_val >= 2 else 0
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        val_acg, val_wf = acg_images[val_idx], waveforms[val_idx]
    else:
        train_idx = np.arange(n)
        val_acg = np.asarray(validation[0], dtype=np.float32)
        val_wf = np.asarray(validation[1], dtype=np.float32)
        if val_wf.ndim == 2:
            val_wf = val_wf[:, None, :]
    if train_idx.size < 2:
        raise ValueError("need at least 2 training units (the CLIP loss contrasts units in a batch)")
    train_acg = _as_tensor(acg_images[train_idx], device)
    train_wf = _as_tensor(waveforms[train_idx], device)
    has_val = len(val_acg) >= 2
    if has_val:
        val_acg_t, val_wf_t = _as_tensor(val_acg, device), _as_tensor(val_wf, device)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=max(1, train_config.t0_epochs))
    n_train = train_idx.size
    batch_size = min(train_config.batch_size, n_train)
    num_batches = max(1, n_train // batch_size)  # drop the ragged last batch (BatchNorm, CLIP negatives)
    history = dict(epoch=[], train_loss=[], val_epoch=[], val_loss=[], val_retrieval=[], best_epoch=None)
    best_key, best_state = None, None
    epochs = range(train_config.epochs)
    if progress_bar:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="NEMO training", unit="epoch")
    for epoch in epochs:
        order = torch.randperm(n_train, generator=generator).to(device)
        running = 0.0
        for b in range(num_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            acg_b = augment_acg(train_acg[idx], augment_config, aug_gen)
            wf_b = augment_waveform(train_wf[idx], augment_config, aug_gen)
            z_acg, z_wf = model(acg_b, wf_b)
            loss = loss_fn(z_acg, z_wf, model.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + (b + 1) / num_batches)
            running += float(loss.detach())
        history["epoch"].append(epoch)
        history["train_loss"].append(running / num_batches)
        last = epoch == train_config.epochs - 1
        if has_val and ((epoch + 1) % max(1, train_config.eval_every) == 0 or last):
            val_loss, val_acc = evaluate_retrieval(model, val_acg_t, val_wf_t, loss_fn)
            history["val_epoch"].append(epoch)
            history["val_loss"].append(val_loss)
            history["val_retrieval"].append(val_acc)
            key = (val_acc, -val_loss)
            if best_key is None or key > best_key:
                best_key = key
                best_state = copy.deepcopy(model.state_dict())
                history["best_epoch"] = epoch
        if progress_bar:
            postfix = dict(loss=f"{history['train_loss'][-1]:.3f}")
            if history["val_retrieval"]:
                postfix["val_top1"] = f"{history['val_retrieval'][-1]:.2f}"
            epochs.set_postfix(postfix)
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history["best_epoch"] = train_config.epochs - 1
    model.eval()
    return model.cpu(), history


def embed(
    model: NemoModel,
    acg_images: np.ndarray,
    waveforms: np.ndarray,
    *,
    projections: bool = False,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
):
    """Unit representations (and optionally projections) of a trained model, in eval mode.

    Parameters
    ----------
    model : NemoModel
    acg_images : np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
    projections : bool, default: False
    batch_size : int, default: 1024
    device : str | torch.device | None, default: None

    Returns
    -------
    representation : np.ndarray, shape (num_units, acg_dim + waveform_dim)
    projection : np.ndarray, shape (num_units, 2, projection_dim)
        ACG then waveform projections; only when ``projections`` is True.
    """
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.ndim == 2:
        waveforms = waveforms[:, None, :]
    dev = resolve_device(device)
    was_training = model.training
    model.eval().to(dev)

    def fn(a, w):
        rep_acg, rep_wf = model.encode(a, w)
        rep = torch.cat([rep_acg, rep_wf], dim=1)
        if not projections:
            return rep
        z_acg, z_wf = model.project(rep_acg, rep_wf)
        return rep, torch.stack([z_acg, z_wf], dim=1)

    out = predict_in_batches(fn, np.asarray(acg_images, dtype=np.float32), waveforms, batch_size=batch_size, device=dev)
    model.cpu().train(was_training)
    if projections and not isinstance(out, tuple):
        out = (out, np.zeros((0, 2, model.config.model.projection_dim), dtype=np.float32))
    return out

"""Training NEMO on arrays: the optimisation loop (CLIP loss, augmentations, cosine warm restarts,
validation-retrieval checkpoint).

:func:`train_nemo` is the inner loop on ACG images and waveforms; :func:`si_amortized.nemo.fit.fit_nemo` is the
entry point on SortingAnalyzers. The two names used to be the other way round: ``train_nemo`` given
SortingAnalyzers still forwards to ``fit_nemo`` until the next release, with a DeprecationWarning.
"""

from __future__ import annotations

import copy
import warnings
from typing import Callable

import numpy as np
import torch

from .._torch import resolve_device, seed_everything
from .augment import augment_acg, augment_waveform
from .config import AugmentConfig, NemoConfig, TrainConfig
from .inputs import are_sorting_analyzers, inputs_from_analyzers  # noqa: F401  (inputs_from_analyzers: old path)
from .loss import clip_loss, label_loss, retrieval_accuracy
from .model import NemoModel

__all__ = ["train_nemo", "evaluate_retrieval"]


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


def train_nemo(
    acg_images: np.ndarray,
    waveforms: np.ndarray | None = None,
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
    on_evaluate: Callable[[int, NemoModel], None] | None = None,
    labels: np.ndarray | None = None,
    label_weight: float = 0.0,
    **deprecated_kwargs,
) -> tuple[NemoModel, dict]:
    """Train (or continue training) a NEMO model with the symmetric CLIP loss: the inner loop, on arrays.

    Use :func:`~si_amortized.nemo.fit.fit_nemo` to train on the units of SortingAnalyzers.

    Parameters
    ----------
    acg_images : np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
        Required; the default None only lets the deprecated form ``train_nemo(sorting_analyzers, ...)`` (the
        name's former meaning, now :func:`~si_amortized.nemo.fit.fit_nemo`) through until the next release.
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
    on_evaluate : callable | None, default: None
        ``on_evaluate(epoch, model)``, called at each validation epoch (every ``train_config.eval_every`` and
        the last) with the model in eval mode, e.g. to save it and choose a checkpoint by another criterion
        (a classification probe on held-out recordings). It must not change the model; training resumes after.
    labels : np.ndarray | None, shape (num_units,), default: None
        Optional class per unit (integers from 0; -1: unlabelled), e.g. excitatory / inhibitory from the
        simulated cell models. With ``label_weight > 0`` a linear head on the representation (ACG and waveform
        encoders' outputs, concatenated) is trained with the encoders, and ``label_weight`` times its
        cross-entropy (:func:`~si_amortized.nemo.loss.label_loss`) is added to the CLIP loss, so that the
        classes are linearly separable in the representation. The head is not part of the returned model.
    label_weight : float, default: 0.0
        Weight of the label term (0: the paper's self-supervised CLIP loss alone).

    Returns
    -------
    model : NemoModel
        In eval mode on the CPU, with the weights of the best validation retrieval (ties: lower val loss).
    history : dict
        ``epoch``, ``train_loss`` (per epoch, the total), ``val_epoch``, ``val_loss``, ``val_retrieval``,
        ``best_epoch``; with a label term also ``train_label_loss`` (per epoch, unweighted).
    """
    if are_sorting_analyzers(acg_images):
        warnings.warn(
            "train_nemo(sorting_analyzers, ...) is now fit_nemo(sorting_analyzers, ...) (fit_* = entry point, "
            "train_* = the loop on arrays); this form of train_nemo goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        if waveforms is not None or validation is not None or loss_fn is not clip_loss:
            raise TypeError("fit_nemo(sorting_analyzers, ...) takes no waveforms, validation or loss_fn")
        from .fit import fit_nemo

        return fit_nemo(acg_images, config=config, model=model, train_config=train_config,
                        augment_config=augment_config, seed=seed, device=device, progress_bar=progress_bar,
                        **deprecated_kwargs)
    if deprecated_kwargs:
        raise TypeError(f"train_nemo() got unexpected keyword arguments {sorted(deprecated_kwargs)}")
    if waveforms is None:
        raise TypeError("train_nemo() missing required argument: 'waveforms'")
    acg_images = np.asarray(acg_images, dtype=np.float32)
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.ndim == 2:
        waveforms = waveforms[:, None, :]
    if acg_images.shape[0] != waveforms.shape[0]:
        raise ValueError("acg_images and waveforms must have the same number of units")
    use_labels = labels is not None and label_weight > 0
    if label_weight < 0:
        raise ValueError(f"label_weight must be >= 0, not {label_weight}")
    if use_labels:
        labels = np.asarray(labels)
        if labels.shape != (acg_images.shape[0],) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < -1:
            raise ValueError("labels must be integers >= -1 (-1: unlabelled), one per unit")
        if labels.max() < 1:
            raise ValueError("labels must hold at least two classes")
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
    head = None
    if use_labels:
        train_labels = torch.as_tensor(labels[train_idx], dtype=torch.long, device=device)
        rep_dim = model.config.model.acg_dim + model.config.model.waveform_dim
        head = torch.nn.Linear(rep_dim, int(labels.max()) + 1).to(device)
    has_val = len(val_acg) >= 2
    if has_val:
        val_acg_t, val_wf_t = _as_tensor(val_acg, device), _as_tensor(val_wf, device)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    parameters = list(model.parameters()) + ([] if head is None else list(head.parameters()))
    optimizer = torch.optim.Adam(parameters, lr=train_config.learning_rate,
                                 weight_decay=train_config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=max(1, train_config.t0_epochs))
    n_train = train_idx.size
    batch_size = min(train_config.batch_size, n_train)
    num_batches = max(1, n_train // batch_size)  # drop the ragged last batch (BatchNorm, CLIP negatives)
    history = dict(epoch=[], train_loss=[], val_epoch=[], val_loss=[], val_retrieval=[], best_epoch=None)
    if head is not None:
        history["train_label_loss"] = []
    best_key, best_state = None, None
    epochs = range(train_config.epochs)
    if progress_bar:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="NEMO training", unit="epoch")
    for epoch in epochs:
        order = torch.randperm(n_train, generator=generator).to(device)
        running = running_label = 0.0
        for b in range(num_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            acg_b = augment_acg(train_acg[idx], augment_config, aug_gen)
            wf_b = augment_waveform(train_wf[idx], augment_config, aug_gen)
            rep_acg, rep_wf = model.encode(acg_b, wf_b)
            z_acg, z_wf = model.project(rep_acg, rep_wf)
            loss = loss_fn(z_acg, z_wf, model.temperature)
            if head is not None:
                term = label_loss(head(torch.cat([rep_acg, rep_wf], dim=1)), train_labels[idx])
                loss = loss + label_weight * term
                running_label += float(term.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + (b + 1) / num_batches)
            running += float(loss.detach())
        history["epoch"].append(epoch)
        history["train_loss"].append(running / num_batches)
        if head is not None:
            history["train_label_loss"].append(running_label / num_batches)
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
            if on_evaluate is not None:
                model.eval()
                on_evaluate(epoch, model)
                model.train()
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

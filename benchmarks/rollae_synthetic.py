"""Roll-AE on the paper's 16-class synthetic well task (Appendix B), against baselines measured in the same run.

Task: 16 classes = 2 levels each of sporadic spikes, single-electrode bursts, cyclic bursts and network
bursts; 8 electrodes on the 3-2-3 well; D = 300 bins; 500 wells per class. The encoders are fit on a
stratified 70 % of the wells; a standardised L2 logistic regression (penalty by 4-fold CV) is trained on
the embeddings of those wells and scored on the other 30 % (never seen by encoder or classifier).

Methods: Roll-AE (k-dim embedding, and the pooled invariant features of the same encoder), a plain
autoencoder, an autoencoder with shift + layout-symmetry augmentation, PCA, and neural metrics.

Usage::

    python benchmarks/rollae_synthetic.py                     # full size (slow on 2 cores)
    python benchmarks/rollae_synthetic.py --n-per-class 200   # reduced
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from si_amortized.rollae import RollAE, make_synthetic_dataset, neural_metrics_table
from si_amortized.rollae.metrics import NeuralMetricsConfig
from si_amortized.rollae.model import RollAENet
from si_amortized.rollae.symmetry import axion_323_positions, layout_symmetries
from si_amortized.rollae.train import train_rollae
from si_amortized.scoring import probe_scores

TASKS = ("label", "spike", "burst", "cycle", "network")


class _Live(dict):
    """A dict that prints each method's accuracies when they arrive."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        print(f"  {key}: " + ", ".join(f"{t}={value[t]:.3f}" for t in TASKS), flush=True)


def classify(Ztr, Zte, labels_tr, labels_te, seed=0):
    """Test accuracy per task of the linear probe (penalty by 4-fold CV among 5) trained on ``Ztr``."""
    return {
        task: probe_scores(Ztr, labels_tr[task].to_numpy(), Zte, labels_te[task].to_numpy(), C=None, Cs=5,
                           inner_cv=4, max_iter=500, seed=seed, ignore_warnings=True)["accuracy"]
        for task in TASKS
    }


def plain_ae(Xtr, Xte, k, epochs, mode, seed):
    torch.manual_seed(seed)
    sym = torch.as_tensor(layout_symmetries(axion_323_positions()))
    net = RollAENet(Xtr.shape[1], Xtr.shape[2], k, encoder_hidden=(4 * k, 2 * k), decoder_hidden=(2 * k, 4 * k), symmetries=sym)
    t0 = time.perf_counter()
    train_rollae(net, Xtr, epochs=epochs, batch_size=64, learning_rate=1e-3, mode=mode, generator=torch.Generator().manual_seed(seed))
    fit_s = time.perf_counter() - t0
    net.eval()

    @torch.no_grad()
    def enc(A):
        return torch.cat([net.encode_plain(torch.as_tensor(A[i : i + 256])) for i in range(0, len(A), 256)]).numpy()

    return enc(Xtr), enc(Xte), fit_s, enc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-per-class", type=int, default=500)
    parser.add_argument("--n-bins", type=int, default=300)
    parser.add_argument("--k", type=int, default=128, help="embedding dimension (also of the baselines)")
    parser.add_argument("--epochs", type=int, default=None, help="Roll-AE epochs (default: the package default)")
    parser.add_argument("--ae-epochs", type=int, default=20)
    parser.add_argument("--tau", type=float, default=None, help="Roll-AE shift-sampling rate (default: the package default)")
    parser.add_argument(
        "--target-smoothing", type=float, default=None, help="Roll-AE target smoothing in bins (default: the package default)"
    )
    parser.add_argument("--lr-schedule", default=None, help="Roll-AE learning-rate schedule (default: the package default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], help="methods to skip: ae ae_aug pca metrics")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file
    torch.set_num_threads(args.threads)

    from sklearn.model_selection import train_test_split

    X, labels = make_synthetic_dataset(args.n_per_class, n_bins=args.n_bins, seed=args.seed)
    idx_tr, idx_te = train_test_split(np.arange(len(X)), test_size=0.3, random_state=args.seed, stratify=labels.label)
    Xtr, Xte = X[idx_tr], X[idx_te]
    ltr, lte = labels.iloc[idx_tr], labels.iloc[idx_te]
    print(f"data: {X.shape} ({args.n_per_class} wells/class), train {len(Xtr)}, test {len(Xte)}; torch threads {args.threads}")
    results, times, invariance = _Live(), {}, {}
    rng = np.random.default_rng(1)
    probe = Xte[:64]
    sym = layout_symmetries(axion_323_positions())
    moved = np.roll(probe[:, sym[rng.integers(len(sym))]], int(rng.integers(1, args.n_bins)), axis=-1)

    # Roll-AE
    overrides = {k: v for k, v in dict(
        epochs=args.epochs, tau=args.tau, target_smoothing=args.target_smoothing, lr_schedule=args.lr_schedule
    ).items() if v is not None}
    model = RollAE(axion_323_positions(), embedding_dim=args.k, seed=args.seed, **overrides)
    t0 = time.perf_counter()
    model.fit(Xtr)
    times["Roll-AE"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Ztr, Zte = model.transform(Xtr), model.transform(Xte)
    infer_s = time.perf_counter() - t0
    results["Roll-AE (embedding)"] = classify(Ztr, Zte, ltr, lte)
    invariance["Roll-AE (embedding)"] = float(np.abs(model.transform(moved) - model.transform(probe)).max() / np.abs(model.transform(probe)).max())
    Ptr, Pte = model.transform(Xtr, features="pooled"), model.transform(Xte, features="pooled")
    results["Roll-AE (pooled features)"] = classify(Ptr, Pte, ltr, lte)
    times["Roll-AE (pooled features)"] = times["Roll-AE"]
    times["Roll-AE (embedding)"] = times.pop("Roll-AE")
    cfg = model.config
    print(f"Roll-AE: fit {times['Roll-AE (embedding)']:.1f} s ({cfg.epochs} epochs, tau {cfg.tau}, receptive field "
          f"{cfg.receptive_field} bins, target smoothing {cfg.target_smoothing} bins, {cfg.lr_schedule} learning rate), "
          f"inference over all {args.n_bins} shifts x {len(sym)} symmetries: {len(X) / infer_s:.0f} wells/s")

    if "ae" not in args.skip:
        a, b, s, enc = plain_ae(Xtr, Xte, args.k, args.ae_epochs, "ae", args.seed)
        results["AE"], times["AE"] = classify(a, b, ltr, lte), s
        invariance["AE"] = float(np.abs(enc(moved) - enc(probe)).max() / np.abs(enc(probe)).max())
    if "ae_aug" not in args.skip:
        a, b, s, enc = plain_ae(Xtr, Xte, args.k, args.ae_epochs, "ae_shift_aug", args.seed)
        results["AE + shift aug."], times["AE + shift aug."] = classify(a, b, ltr, lte), s
        invariance["AE + shift aug."] = float(np.abs(enc(moved) - enc(probe)).max() / np.abs(enc(probe)).max())
    if "pca" not in args.skip:
        from sklearn.decomposition import PCA

        t0 = time.perf_counter()
        pca = PCA(n_components=args.k, random_state=args.seed).fit(Xtr.reshape(len(Xtr), -1))
        times["PCA"] = time.perf_counter() - t0
        results["PCA"] = classify(pca.transform(Xtr.reshape(len(Xtr), -1)), pca.transform(Xte.reshape(len(Xte), -1)), ltr, lte)
    if "metrics" not in args.skip:
        t0 = time.perf_counter()
        cfg = NeuralMetricsConfig.for_bins()
        Mtr = neural_metrics_table(Xtr, config=cfg, fill_value=0.0).to_numpy()
        Mte = neural_metrics_table(Xte, config=cfg, fill_value=0.0).to_numpy()
        times["neural metrics"] = time.perf_counter() - t0
        results["neural metrics"] = classify(Mtr, Mte, ltr, lte)

    header = f"{'method':28s} " + " ".join(f"{t:>8s}" for t in ("16-class", *TASKS[1:])) + f" {'fit s':>8s} {'rel. change under shift+flip':>28s}"
    print(header)
    for name, res in results.items():
        inv = invariance.get(name)
        print(f"{name:28s} " + " ".join(f"{res[t]:8.4f}" for t in TASKS) + f" {times[name]:8.1f} {('%.1e' % inv) if inv is not None else '-':>28s}")
    ref = results["Roll-AE (embedding)"]["label"]
    for name, res in results.items():
        if not name.startswith("Roll-AE"):
            print(f"16-class accuracy ratio Roll-AE (embedding) / {name}: {ref / max(res['label'], 1e-9):.2f}; "
                  f"Roll-AE (pooled) / {name}: {results['Roll-AE (pooled features)']['label'] / max(res['label'], 1e-9):.2f}")


if __name__ == "__main__":
    main()

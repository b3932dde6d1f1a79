"""Roll-AE end to end: synthetic spike trains -> MEArec wells -> detected peaks -> well embedding -> class.

Pipeline (issue #4):

1. Wells of the paper's 16 classes (Appendix B generator, D bins, 8 electrodes on the 3-2-3 layout),
   ``--n-per-class`` per class.
2. Each well becomes a MEArec recording on the 8-electrode 3-2-3 well (30 um pitch, templates of the
   packaged SqMEA-10-15 library, one neuron per electrode, one spike per active bin, ``--noise`` uV):
   ``si_amortized.datasets.simulate_well_recording`` (cached in ``SI_AMORTIZED_CACHE``).
3. Threshold peaks per electrode (``detect_peaks(method="by_channel")``, 5 x MAD, one peak per 0.5 ms:
   the package defaults; ``--detect-threshold``, ``--exclude-sweep-ms``) -> per-electrode spike
   trains -> bins of ``--bin-width`` s (``si_amortized.rollae.well_spike_trains`` / ``stack_wells``).
   Bin recovery: detected active bins against the generator's binary trains.
4. A RollAE with the package defaults (``--epochs`` overrides the number of epochs) is fit on
   ``--n-train-per-class`` purely synthetic wells per class (a different seed), and embeds the synthetic
   training wells, the detected MEArec wells and, as a reference, the generator's binary trains of the
   same wells.
5. Classification (standardised L2 logistic regression, penalty by 4-fold CV), 16-class and the four
   binary factors:
   - transfer: trained on the synthetic embeddings, applied to the detected MEArec wells (binned counts,
     and binarised like the generator's wells);
   - CV on the MEArec wells themselves (stratified ``--folds``-fold);
   - the same two for neural metrics (binned metrics for the transfer; binned and spike-time metrics
     for the CV).

Usage::

    python benchmarks/rollae_mearec_end_to_end.py                     # 10 wells/class, 200 train wells/class
    python benchmarks/rollae_mearec_end_to_end.py --exclude-sweep-ms 0.1   # the earlier, narrower sweep
    python benchmarks/rollae_mearec_end_to_end.py --n-per-class 20 --epochs 10
    python benchmarks/rollae_mearec_end_to_end.py --n-per-class 4 --folds 4 --n-train-per-class 20 --epochs 1  # smoke run

Each MEArec well lasts ``n_bins * bin_width`` s (300 x 0.05 = 15 s, 15 MB in the cache); about 0.6 s per
well to simulate and 0.2 s to detect on one shared core, then reused from the cache. The default run
takes about 5-6 min cold (1 core, ~1.2 GB peak memory); the RollAE fit is ~75 s of it.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

TASKS = ("label", "spike", "burst", "cycle", "network")


def transfer_accuracy(F_train, labels_train, F_test, labels_test, seed: int) -> dict:
    """Accuracy per task of a classifier trained on ``F_train`` and scored on ``F_test``."""
    from si_amortized.scoring import probe_scores

    return {
        task: probe_scores(F_train, labels_train[task].to_numpy(), F_test, labels_test[task].to_numpy(),
                           **_probe_options(seed, 4))["accuracy"]
        for task in TASKS
    }


def cv_accuracy(F, labels, folds: int, seed: int) -> dict:
    """Mean stratified ``folds``-fold CV accuracy per task."""
    from si_amortized.scoring import cross_validated_scores

    out = {}
    for task in TASKS:
        y = labels[task].to_numpy()
        # the penalty's inner CV needs as many training wells per class as folds
        inner = max(2, min(4, (int(np.bincount(y).min()) * (folds - 1)) // folds))
        out[task] = cross_validated_scores(F, y, folds=folds, metrics=("accuracy",),
                                           **_probe_options(seed, inner))["accuracy"]
    return out


def _probe_options(seed: int, inner_cv: int) -> dict:
    """The linear probe: standardised L2 logistic regression, penalty by ``inner_cv``-fold CV among 5."""
    return dict(C=None, Cs=5, inner_cv=inner_cv, max_iter=1000, seed=seed, ignore_warnings=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-per-class", type=int, default=10, help="MEArec wells per class")
    parser.add_argument(
        "--n-train-per-class", type=int, default=200, help="synthetic RollAE/classifier training wells per class"
    )
    parser.add_argument("--n-bins", type=int, default=300, help="D, bins per well")
    parser.add_argument("--bin-width", type=float, default=0.05, help="bin width (s)")
    parser.add_argument("--noise", type=float, default=10.0, help="MEArec noise level (uV)")
    parser.add_argument("--epochs", type=int, default=None, help="RollAE epochs (default: the package default)")
    parser.add_argument("--tau", type=float, default=None, help="RollAE shift-sampling rate (default: the package default)")
    parser.add_argument("--detect-threshold", type=float, default=5.0, help="peak detection threshold (x MAD)")
    parser.add_argument(
        "--exclude-sweep-ms", type=float, default=0.5, help="peak detection: one peak per channel within this window"
    )
    parser.add_argument("--folds", type=int, default=5, help="CV folds on the MEArec wells")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 2 <= args.folds <= args.n_per_class:
        parser.error(f"--folds must be between 2 and --n-per-class ({args.n_per_class}), got {args.folds}")
    sys.stdout.reconfigure(line_buffering=True)
    t_start = time.perf_counter()

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    # one BLAS thread: on shared cores, multi-threaded BLAS in the classifiers' fits oversubscribes badly
    threadpool_limits(args.threads)

    from si_amortized.datasets import cache_folder, load_mearec, simulate_well_recording, well_323_positions
    from si_amortized.rollae import (
        RollAE,
        make_synthetic_dataset,
        neural_metrics,
        neural_metrics_table,
        stack_wells,
        well_spike_trains,
    )
    from si_amortized.rollae.metrics import METRIC_NAMES, NeuralMetricsConfig

    bw = args.bin_width
    # 1. synthetic wells to simulate with MEArec
    X_true, labels = make_synthetic_dataset(args.n_per_class, n_bins=args.n_bins, seed=args.seed + 1)
    n = len(X_true)
    print(f"MEArec wells: {n} ({args.n_per_class} per class), D = {args.n_bins} bins of {bw * 1e3:g} ms "
          f"({args.n_bins * bw:g} s per recording), noise {args.noise:g} uV, "
          f"detection {args.detect_threshold:g} x MAD, exclude sweep {args.exclude_sweep_ms:g} ms; "
          f"cache {cache_folder()}")

    # 2-3. MEArec recordings, threshold peaks per electrode
    wells, t_sim, t_det = [], 0.0, 0.0
    for i in range(n):
        t0 = time.perf_counter()
        path = simulate_well_recording(X_true[i], bw, noise_level=args.noise, seed=10_000 * args.seed + i)
        t1 = time.perf_counter()
        t_sim += t1 - t0
        recording, _ = load_mearec(path)
        (well,) = well_spike_trains(
            recording,
            detect_kwargs=dict(detect_threshold=args.detect_threshold, exclude_sweep_ms=args.exclude_sweep_ms),
            job_kwargs=dict(n_jobs=1, progress_bar=False),
        )
        wells.append(well)
        t_det += time.perf_counter() - t1
        if (i + 1) % 16 == 0 or i + 1 == n:
            print(f"  {i + 1}/{n} wells: simulation {t_sim:.0f} s, load + detection {t_det:.0f} s")
    X_det, positions = stack_wells(wells, bw)
    np.testing.assert_allclose(positions, well_323_positions(30.0))  # electrode order = generator rows
    active, detected = X_true > 0, X_det > 0
    match = float(np.mean(active == detected))
    recall = float((active & detected).sum() / max(active.sum(), 1))
    false_alarm = float((~active & detected).sum() / max((~active).sum(), 1))
    exact = float(np.mean(X_det == X_true))
    per_well = np.mean(active == detected, axis=(1, 2))
    print(f"bin recovery: {match:.4f} of bins match (active/inactive); recall {recall:.4f}, false-alarm rate "
          f"{false_alarm:.4f}, exact counts {exact:.4f}; per well min {per_well.min():.4f}, "
          f"median {np.median(per_well):.4f}")

    # 4. RollAE on purely synthetic wells
    X_syn, labels_syn = make_synthetic_dataset(args.n_train_per_class, n_bins=args.n_bins, seed=args.seed)
    overrides = {k: v for k, v in dict(epochs=args.epochs, tau=args.tau).items() if v is not None}
    model = RollAE(positions, **overrides)
    cfg = model.config
    t0 = time.perf_counter()
    model.fit(X_syn)
    t_fit = time.perf_counter() - t0
    print(f"RollAE fit on {len(X_syn)} synthetic wells: {t_fit:.0f} s (embedding_dim {cfg.embedding_dim}, "
          f"epochs {cfg.epochs}, tau {cfg.tau}, receptive_field {cfg.receptive_field}, "
          f"{len(model.symmetries_)} layout symmetries)")
    t0 = time.perf_counter()
    # the generator's wells are binary: detected counts > 1 in a bin (a spike detected twice, or a neighbour's
    # spike on top) are also scored after binarising
    X_bin = (X_det > 0).astype(np.float32)
    Z_syn, Z_det, Z_true = model.transform(X_syn), model.transform(X_det), model.transform(X_true)
    Z_bin = model.transform(X_bin)
    print(f"embeddings: {time.perf_counter() - t0:.0f} s")

    # neural metrics: binned (bin units) for the transfer, spike times (s) for CV on the recordings
    t0 = time.perf_counter()
    bins_cfg = NeuralMetricsConfig.for_bins()
    M_syn = neural_metrics_table(X_syn, config=bins_cfg, fill_value=0.0).to_numpy()
    M_det = neural_metrics_table(X_det, config=bins_cfg, fill_value=0.0).to_numpy()
    M_bin = neural_metrics_table(X_bin, config=bins_cfg, fill_value=0.0).to_numpy()
    M_true = neural_metrics_table(X_true, config=bins_cfg, fill_value=0.0).to_numpy()
    M_times = np.nan_to_num(
        np.array([[neural_metrics(w.spike_times, w.duration)[k] for k in METRIC_NAMES] for w in wells]), nan=0.0
    )

    t_metrics = time.perf_counter() - t0

    # 5. classification
    t0 = time.perf_counter()
    rows = {}
    rows["Roll-AE  synthetic -> MEArec detected"] = transfer_accuracy(Z_syn, labels_syn, Z_det, labels, args.seed)
    rows["Roll-AE  synthetic -> MEArec detected, binarised"] = transfer_accuracy(
        Z_syn, labels_syn, Z_bin, labels, args.seed
    )
    rows["Roll-AE  synthetic -> binary trains (ref.)"] = transfer_accuracy(Z_syn, labels_syn, Z_true, labels, args.seed)
    rows[f"Roll-AE  {args.folds}-fold CV on MEArec detected"] = cv_accuracy(Z_det, labels, args.folds, args.seed)
    rows["metrics  synthetic -> MEArec detected (binned)"] = transfer_accuracy(
        M_syn, labels_syn, M_det, labels, args.seed
    )
    rows["metrics  synthetic -> MEArec detected, binarised"] = transfer_accuracy(
        M_syn, labels_syn, M_bin, labels, args.seed
    )
    rows["metrics  synthetic -> binary trains (ref.)"] = transfer_accuracy(M_syn, labels_syn, M_true, labels, args.seed)
    rows[f"metrics  {args.folds}-fold CV on MEArec (binned)"] = cv_accuracy(M_det, labels, args.folds, args.seed)
    rows[f"metrics  {args.folds}-fold CV on MEArec (spike times)"] = cv_accuracy(M_times, labels, args.folds, args.seed)

    t_clf = time.perf_counter() - t0
    print(f"\naccuracy (chance: 16-class {1 / 16:.3f}, binary 0.5)")
    print(f"{'features / protocol':50s} " + " ".join(f"{t:>8s}" for t in ("16-class", *TASKS[1:])))
    for name, res in rows.items():
        print(f"{name:50s} " + " ".join(f"{res[t]:8.3f}" for t in TASKS))
    wall = time.perf_counter() - t_start
    print(f"\nwall time {wall:.0f} s (MEArec simulation or cache reads {t_sim:.0f} s, load + detection "
          f"{t_det:.0f} s, RollAE fit {t_fit:.0f} s, neural metrics {t_metrics:.0f} s, classifiers {t_clf:.0f} s); "
          f"torch / BLAS threads {args.threads}")


if __name__ == "__main__":
    main()

"""Benchmark: NEMO cell-type classification on held-out MEArec recordings (13 m-types and E/I).

Setting built to measure something (issue 6): templates of the test recordings come from the held-out fold
of the packaged library (cells never seen by the pretrained model nor by the probes), noise 20-30 uV,
templates averaged from 100-500 random spikes per unit, cell-type firing statistics that overlap (and are
spread more widely in the test recordings), probes trained on some recordings and scored on others.

Methods, all with the same class-balanced linear probe (standardise + L2 logistic regression) unless noted:
  hand-crafted   SpikeInterface template_metrics + spiketrain_metrics + ISI / ACG summary features
  PCA            PCA (50 components, fit on the probe-training units) of the raw normalized waveform + ACG image
  random NEMO    representations of randomly initialised NEMO encoders
  NEMO           representations of the pretrained NEMO model (frozen)
  NEMO+metrics   the NEMO representations followed by the hand-crafted features (the probe standardises each
                 column; what nemo_embeddings(features="nemo+metrics") gives, plus the ISI / ACG summaries)
  supervised     the NEMO architecture trained end to end from random weights on the labelled units (MLP head)
  NEMO fine-tuned  the pretrained model fine-tuned end to end with an MLP head
Label-ratio sweep: 1%, 10%, 30%, 100% of the probe-training units labelled (stratified draw, 3 repeats below
100%). NEMO+metrics - hand-crafted: the difference in balanced accuracy with a 95 % paired bootstrap interval
over the test units (each unit's correctness, averaged over the repeats, weighted by 1 / its class's size).
Also: the time to embed 1000 units (ACG images + waveforms + model) and SpikeInterface's acgs_3d time.

Usage: python benchmarks/nemo_celltypes.py [--train-recordings 4] [--test-recordings 6] [--duration 60]
       [--cache DIR] [--finetune-epochs 60] [--model PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401
from si_amortized.datasets import simulate_celltype_analyzer
from si_amortized.nemo import NemoModel, embed, load_nemo_model, load_pretrained_model, prepare_inputs
from si_amortized.nemo.acg import compute_acg_images
from si_amortized.nemo.classifiers import fine_tune, make_linear_probe, score_predictions
from si_amortized.nemo.waveforms import normalize_templates
from si_amortized.scoring import bootstrap_difference

RATIOS = (0.01, 0.1, 0.3, 1.0)


def isi_acg_features(sorting, acg_images, duration_s):
    """ISI and ACG summary features per unit (hand-crafted baseline)."""
    feats = []
    fs = sorting.sampling_frequency
    lags = np.geomspace(0.8, 1000, 102)
    centres = np.sqrt(lags[1:] * lags[:-1])
    bands = [(0, 5), (5, 20), (20, 100), (100, 1000)]
    for i, uid in enumerate(sorting.unit_ids):
        t = sorting.get_unit_spike_train(uid) / fs
        isi = np.diff(t) * 1000
        if isi.size < 3:
            isi = np.full(3, np.nan)
        cv = np.std(isi) / np.mean(isi)
        cv2 = np.nanmean(2 * np.abs(isi[1:] - isi[:-1]) / (isi[1:] + isi[:-1]))
        pct = np.nanpercentile(np.log10(isi), [1, 5, 25, 50, 75, 95])
        burst5, burst10 = np.mean(isi < 5), np.mean(isi < 10)
        img = acg_images[i]
        band_means = [img[:, (centres >= a) & (centres < b)].mean() for a, b in bands]
        mod = img[-3:, centres < 100].mean() - img[:3, centres < 100].mean()
        feats.append([t.size / duration_s, cv, cv2, burst5, burst10, *pct, *band_means, mod])
    return np.asarray(feats, dtype=np.float64)


def simulate(kind, index, args, cache: Path):
    seed = (5000 if kind == "train" else 6000) + index
    path = cache / f"{kind}_{seed}.npz"
    if path.is_file():
        return dict(np.load(path, allow_pickle=False))
    rng = np.random.default_rng(seed)
    noise = float(rng.uniform(20.0, 30.0))
    n_spikes = int(rng.integers(100, 501))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        analyzer, h5 = simulate_celltype_analyzer(
            seed, output=Path(tmp) / "rec.h5", duration=args.duration,
            # the held-out fold has 4 templates per m-type (only 2 above 40 uV for some): one cell per m-type
            units_per_mtype=args.units_per_mtype if kind == "train" else args.test_units_per_mtype,
            min_dist=10.0 if kind == "train" else 5.0,
            noise_level=noise, template_fold="train" if kind == "train" else "test",
            spikes_for_templates=n_spikes, firing_jitter=1.0 if kind == "train" else 1.4,
        )
        acg, wf = prepare_inputs(analyzer)
        tm = analyzer.compute("template_metrics").get_data()
        st = analyzer.compute("spiketrain_metrics").get_data()
        hand = np.concatenate([tm.to_numpy(dtype=np.float64), st.to_numpy(dtype=np.float64),
                               isi_acg_features(analyzer.sorting, acg, args.duration)], axis=1)
        data = dict(acg=acg, wf=wf, hand=hand, mtype=analyzer.sorting.get_property("mtype").astype(str),
                    cell_type=analyzer.sorting.get_property("cell_type").astype(str),
                    noise=np.float64(noise), n_spikes=np.int64(n_spikes))
        del analyzer
    np.savez(path, **data)
    print(f"  simulated {kind} recording seed {seed}: {len(acg)} units, noise {noise:.1f} uV, templates from "
          f"<= {n_spikes} spikes ({time.perf_counter() - t0:.0f} s)", flush=True)
    return data


def stack(records):
    out = {k: np.concatenate([r[k] for r in records]) for k in ("acg", "wf", "hand", "mtype", "cell_type")}
    out["rec"] = np.concatenate([np.full(len(r["acg"]), i) for i, r in enumerate(records)])
    return out


def labelled_subset(y, ratio, rng):
    """Stratified draw of round(ratio * n) units (at least 2, from at least 2 classes)."""
    n = len(y)
    k = max(2, int(round(ratio * n)))
    if k >= n:
        return np.arange(n)
    from sklearn.model_selection import StratifiedShuffleSplit

    classes, counts = np.unique(y, return_counts=True)
    if k >= len(classes) and counts.min() >= 2:
        idx, _ = next(StratifiedShuffleSplit(n_splits=1, train_size=k, random_state=int(rng.integers(1 << 30))).split(np.zeros(n), y))
        return idx
    while True:
        idx = rng.choice(n, k, replace=False)
        if len(np.unique(y[idx])) >= 2:
            return idx


def impute(train, test):
    med = np.nanmedian(train, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    fix = lambda a: np.where(np.isfinite(a), a, med)  # noqa: E731
    return fix(train), fix(test)


def balanced_correctness(y_true, y_pred):
    """Per-unit correctness weighted so that its mean is the balanced accuracy, shape (num_units,)."""
    classes, inverse, counts = np.unique(y_true, return_inverse=True, return_counts=True)
    return (y_pred == y_true) * len(y_true) / (len(classes) * counts[inverse])


def speed(model):
    rng = np.random.default_rng(0)
    fs, duration, n_units = 30_000.0, 600.0, 1000
    rates = rng.lognormal(np.log(6.0), 0.7, n_units)
    trains = [np.sort(rng.uniform(0, duration, rng.poisson(r * duration))) for r in rates]
    s = np.concatenate([np.round(t * fs).astype(np.int64) for t in trains])
    u = np.concatenate([np.full(len(t), i) for i, t in enumerate(trains)])
    templates = rng.normal(size=(n_units, 90, 8)).astype(np.float32)
    templates[:, 30, 0] -= 20
    t0 = time.perf_counter()
    acg = compute_acg_images(s, u, np.zeros_like(u), n_units, fs, [int(duration * fs)])
    t1 = time.perf_counter()
    wf = normalize_templates(templates, fs, 30)
    t2 = time.perf_counter()
    embed(model, acg, wf)
    t3 = time.perf_counter()
    # SpikeInterface's acgs_3d on a few units with the same 2 s window (per-spike python loop)
    import spikeinterface as si
    from spikeinterface.postprocessing.correlograms import _compute_acgs_3d

    n_si = 10
    sorting = si.NumpySorting.from_unit_dict([{i: np.round(trains[i] * fs).astype(np.int64) for i in range(n_si)}], fs)
    t4 = time.perf_counter()
    _compute_acgs_3d(sorting, window_ms=2000.0, bin_ms=1.0, n_jobs=1, progress_bar=False)
    t5 = time.perf_counter()
    ours_10 = time.perf_counter()
    compute_acg_images(s[u < n_si], u[u < n_si], np.zeros(int((u < n_si).sum()), int), n_si, fs, [int(duration * fs)])
    ours_10 = time.perf_counter() - ours_10
    return dict(num_spikes=int(s.size), acg_s=t1 - t0, waveform_s=t2 - t1, model_s=t3 - t2, total_s=t3 - t0,
                si_acgs3d_10_units_s=t5 - t4, ours_10_units_s=ours_10)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-recordings", type=int, default=4)
    p.add_argument("--test-recordings", type=int, default=6)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--units-per-mtype", type=int, default=3)
    p.add_argument("--test-units-per-mtype", type=int, default=1)
    p.add_argument("--finetune-epochs", type=int, default=100)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model", default=None, help="saved NEMO model (default: the shipped pretrained one)")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "nemo_celltypes_cache")
    p.add_argument("--skip-speed", action="store_true")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.threads:
        __import__("torch").set_num_threads(args.threads)

    model = load_pretrained_model() if args.model is None else load_nemo_model(args.model)
    import torch

    torch.manual_seed(12345)
    random_model = NemoModel(model.config).eval()

    print("simulating (cached in", args.cache, ")", flush=True)
    train = stack([simulate("train", i, args, args.cache) for i in range(args.train_recordings)])
    test = stack([simulate("test", i, args, args.cache) for i in range(args.test_recordings)])
    print(f"probe-training units: {len(train['acg'])} ({args.train_recordings} recordings, train-fold templates); "
          f"test units: {len(test['acg'])} ({args.test_recordings} held-out recordings, held-out templates)")

    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    raw = lambda d: np.concatenate([d["wf"].reshape(len(d["wf"]), -1), d["acg"].reshape(len(d["acg"]), -1)], 1)  # noqa: E731
    scaler = StandardScaler().fit(raw(train))
    pca = PCA(n_components=min(50, len(train["acg"]) - 1), random_state=0).fit(scaler.transform(raw(train)))
    hand_tr, hand_te = impute(train["hand"], test["hand"])
    features = {
        "hand-crafted": (hand_tr, hand_te),
        "PCA": (pca.transform(scaler.transform(raw(train))), pca.transform(scaler.transform(raw(test)))),
        "random NEMO": (embed(random_model, train["acg"], train["wf"]), embed(random_model, test["acg"], test["wf"])),
        "NEMO": (embed(model, train["acg"], train["wf"]), embed(model, test["acg"], test["wf"])),
    }
    features["NEMO+metrics"] = tuple(np.concatenate([nemo, hand], axis=1)
                                     for nemo, hand in zip(features["NEMO"], features["hand-crafted"]))
    results = {}
    correct = {}  # (task, ratio, method) -> per-unit balanced correctness of each repeat
    for task in ("mtype", "cell_type"):
        y_tr, y_te = train[task], test[task]
        for ratio in RATIOS:
            reps = 1 if ratio >= 1.0 else args.repeats
            for rep in range(reps):
                rng = np.random.default_rng(100 * rep + int(ratio * 1000))
                idx = labelled_subset(y_tr, ratio, rng)
                for name, (f_tr, f_te) in features.items():
                    probe = make_linear_probe().fit(f_tr[idx], y_tr[idx])
                    pred = probe.predict(f_te)
                    results.setdefault((task, ratio, name), []).append(score_predictions(y_te, pred))
                    correct.setdefault((task, ratio, name), []).append(balanced_correctness(y_te, pred))
                if ratio in (0.1, 1.0) and rep == 0 and args.finetune_epochs > 0:
                    # from scratch: a higher encoder learning rate than for fine-tuning the pretrained model
                    for name, base, learning_rate in (("supervised", None, 1e-3), ("NEMO fine-tuned", model, 1e-4)):
                        predict, _ = fine_tune(base, train["acg"][idx], train["wf"][idx], y_tr[idx],
                                               epochs=args.finetune_epochs, learning_rate=learning_rate,
                                               batch_size=64, seed=rep)
                        results.setdefault((task, ratio, name), []).append(
                            score_predictions(y_te, predict(test["acg"], test["wf"])))
        print(f"\n== {task} ({len(np.unique(y_te))} classes in test; chance balanced accuracy "
              f"{1 / len(np.unique(y_te)):.3f}) ==")
        print("balanced accuracy / macro F1 on held-out recordings, by fraction of labelled probe-training units")
        names = list(features) + ["supervised", "NEMO fine-tuned"]
        header = f"{'method':<18}" + "".join(f"{f'{int(r * 100)}% labels':>20}" for r in RATIOS)
        print(header)
        for name in names:
            row = f"{name:<18}"
            for ratio in RATIOS:
                vals = results.get((task, ratio, name))
                if not vals:
                    row += f"{'-':>20}"
                    continue
                ba = np.mean([v["balanced_accuracy"] for v in vals])
                f1 = np.mean([v["macro_f1"] for v in vals])
                row += f"{f'{ba:.3f} / {f1:.3f}':>20}"
            print(row)
        for ratio in (0.1, 1.0):
            ba = {n: np.mean([v["balanced_accuracy"] for v in results[(task, ratio, n)]]) for n in features}
            print(f"  {int(ratio * 100)}% labels: NEMO - hand-crafted = {ba['NEMO'] - ba['hand-crafted']:+.3f} "
                  f"balanced accuracy (target for m-type at 10%: >= +0.10; at 100%: >= 0)")
        print(f"NEMO+metrics - hand-crafted, balanced accuracy [95% paired bootstrap interval over the "
              f"{len(y_te)} test units, 2000 resamples]")
        for ratio in RATIOS:
            a, b = (np.mean(correct[(task, ratio, n)], axis=0) for n in ("NEMO+metrics", "hand-crafted"))
            diff, low, high = bootstrap_difference(a, b, n_boot=2000, seed=0, level=0.95)
            print(f"  {int(ratio * 100):>3}% labels: {diff:+.3f} [{low:+.3f}, {high:+.3f}]")

    if not args.skip_speed:
        sp = speed(model)
        print(f"\n== speed (CPU, {__import__('torch').get_num_threads()} torch threads) ==")
        print(f"embedding 1000 units ({sp['num_spikes']} spikes, 600 s): ACG images {sp['acg_s']:.2f} s, "
              f"waveforms {sp['waveform_s']:.2f} s, model {sp['model_s']:.2f} s, total {sp['total_s']:.2f} s "
              f"(target < 10 s)")
        print(f"3D ACGs of 10 units with a 2 s window: SpikeInterface acgs_3d {sp['si_acgs3d_10_units_s']:.2f} s, "
              f"ours {sp['ours_10_units_s']:.3f} s (x{sp['si_acgs3d_10_units_s'] / max(sp['ours_10_units_s'], 1e-9):.0f})")


if __name__ == "__main__":
    main()

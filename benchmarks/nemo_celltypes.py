"""Benchmark: NEMO cell-type classification on held-out MEArec recordings (13 m-types and E/I), two settings.

Settings (each with its own probe-training and test recordings, 60 s, SqMEA-10-15 or --probe Neuropixels-64):
  easy  templates from every spike at 10 uV (close to the ground-truth templates), MEArec's default firing
        (Poisson, rate by E/I only: the m-type is in the waveform alone)
  hard  20-30 uV, templates from 100-500 random spikes, cell-type firing models that overlap (spread wider in
        the test recordings)
Test recordings hold cells no packaged model has seen: by default NEURON templates of another seed
(``simulate_templates(n_per_cell=25, seed=2)``, the ``simulation`` extra; cached), 3 cells per m-type per
recording; probe-training recordings use the train fold of the packaged library. Whole recordings are held
out.

Methods, all with the same class-balanced linear probe (standardise + L2 logistic regression) unless noted:
  SI metrics     SpikeInterface's template_metrics + spiketrain_metrics (what nemo_embeddings(features=
                 "nemo+metrics") appends)
  hand-crafted   SI metrics + ISI / ACG summary features
  PCA            PCA (50 components, fit on the probe-training units) of the raw normalized waveform + ACG image
  random NEMO    the default embedding of randomly initialised NEMO encoders
  NEMO           the default embedding of the NEMO model (frozen; the packaged one unless --model): what
                 nemo_embeddings returns, the 500-d representation and the waveform's 512-d projection
  NEMO (representation)  the 500-d representation alone (embedding="representation", the paper's features)
  NEMO (representation+projections)  the representation and both modalities' projections
  NEMO+metrics   the NEMO embedding followed by SI metrics
  supervised / NEMO fine-tuned  (with --finetune-epochs > 0) end-to-end training with an MLP head
Label-ratio sweep: 1%, 10%, 30%, 100% of the probe-training units labelled (stratified draws, --repeats below
100%); features are standardised on every probe-training unit (their labels are what is scarce;
``--scaler labelled`` standardises on the labelled ones, which fails with 2 labelled units). Each figure is the balanced accuracy on the test units, averaged over the draws, with a 95 % percentile
bootstrap interval over the test units; differences between methods are paired (same units, same draws).
Also: the time to embed 1000 units (ACG images + waveforms + model) and SpikeInterface's acgs_3d time.

Usage: python benchmarks/nemo_celltypes.py [--settings easy hard] [--train-recordings 3]
       [--test-recordings 8] [--cache DIR] [--model PATH ...] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401
from si_amortized.datasets import simulate_celltype_analyzer, simulate_templates
from si_amortized.nemo import (
    DEFAULT_EMBEDDING,
    EMBEDDING_PARTS,
    NemoModel,
    embed,
    embedding_features,
    load_nemo_model,
    load_pretrained_model,
)
from si_amortized.nemo.acg import compute_acg_images
from si_amortized.nemo.classifiers import fine_tune, make_linear_probe
from si_amortized.nemo.inputs import inputs_from_arrays, unit_metrics
from si_amortized.nemo.waveforms import normalize_templates
from si_amortized.scoring import bootstrap_difference

RATIOS = (0.01, 0.1, 0.3, 1.0)
SETTINGS = {
    "easy": dict(noise=(10.0, 10.0), spikes=None, firing="mearec", jitter=(1.0, 1.0), seed=7000),
    "hard": dict(noise=(20.0, 30.0), spikes=(100, 501), firing="celltype", jitter=(1.0, 1.4), seed=5000),
}


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


def simulate(setting, kind, index, args, cache: Path, test_library):
    """One recording's units: raw inputs (templates, spikes) and metrics, cached as ``.npz``."""
    spec = SETTINGS[setting]
    seed = spec["seed"] + (0 if kind == "train" else 1000) + index
    tag = "packaged" if test_library is None else f"s{args.test_template_seed}"
    probe = "" if args.probe == "SqMEA-10-15" else f"_{args.probe}"
    path = cache / f"{setting}_{kind}_{seed}_{tag}{probe}.npz"
    if path.is_file():
        return dict(np.load(path, allow_pickle=False))
    rng = np.random.default_rng(seed)
    noise = float(rng.uniform(*spec["noise"]))
    n_spikes = None if spec["spikes"] is None else int(rng.integers(*spec["spikes"]))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        analyzer, _ = simulate_celltype_analyzer(
            seed, output=Path(tmp) / "rec.h5", duration=args.duration,
            units_per_mtype=args.units_per_mtype if (kind == "train" or test_library is not None) else 1,
            min_dist=10.0 if kind == "train" else 5.0, noise_level=noise,
            template_fold="train" if kind == "train" else "test",
            templates=test_library if kind == "test" else None,
            spikes_for_templates=n_spikes, firing=spec["firing"], probe=args.probe,
            firing_jitter=spec["jitter"][0 if kind == "train" else 1],
        )
        ext = analyzer.get_extension("templates")
        spikes = analyzer.sorting.to_spike_vector()
        acg_default = compute_acg_images(spikes["sample_index"], spikes["unit_index"], spikes["segment_index"],
                                         len(analyzer.unit_ids), analyzer.sampling_frequency,
                                         [analyzer.get_num_samples(0)])
        si_metrics, _ = unit_metrics(analyzer)
        data = dict(
            templates=ext.get_templates(operator="average").astype(np.float32), nbefore=np.int64(ext.nbefore),
            channel_locations=analyzer.get_channel_locations(), fs=np.float64(analyzer.sampling_frequency),
            sample_index=spikes["sample_index"], unit_index=spikes["unit_index"],
            num_samples=np.int64(analyzer.get_num_samples(0)), si_metrics=si_metrics,
            isi_acg=isi_acg_features(analyzer.sorting, acg_default, args.duration),
            mtype=analyzer.sorting.get_property("mtype").astype(str),
            cell_type=analyzer.sorting.get_property("cell_type").astype(str),
            noise=np.float64(noise), n_spikes=np.int64(-1 if n_spikes is None else n_spikes),
        )
        del analyzer
    np.savez(path, **data)
    print(f"  simulated {setting} {kind} recording seed {seed}: {len(data['mtype'])} units, noise {noise:.1f} uV, "
          f"templates from {'every' if n_spikes is None else f'<= {n_spikes}'} spike(s) "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return data


def model_inputs(record, config):
    """ACG images and normalized waveforms of a cached recording for a model's input config."""
    return inputs_from_arrays(record["sample_index"], record["unit_index"], len(record["mtype"]),
                              record["num_samples"], record["templates"], record["nbefore"], record["fs"], config,
                              channel_locations=record["channel_locations"])


def stack(records):
    keys = ("si_metrics", "isi_acg", "mtype", "cell_type")
    out = {k: np.concatenate([r[k] for r in records]) for k in keys}
    out["records"] = records
    return out


def stacked_inputs(data, config):
    pairs = [model_inputs(r, config) for r in data["records"]]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


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


def speed(model):
    rng = np.random.default_rng(0)
    fs, duration, n_units = 30_000.0, 600.0, 1000
    rates = rng.lognormal(np.log(6.0), 0.7, n_units)
    trains = [np.sort(rng.uniform(0, duration, rng.poisson(r * duration))) for r in rates]
    s = np.concatenate([np.round(t * fs).astype(np.int64) for t in trains])
    u = np.concatenate([np.full(len(t), i) for i, t in enumerate(trains)])
    templates = rng.normal(size=(n_units, 90, 16)).astype(np.float32)
    templates[:, 30, 0] -= 20
    locations = np.stack(np.meshgrid(np.arange(4) * 15.0, np.arange(4) * 15.0), -1).reshape(16, 2)
    t0 = time.perf_counter()
    acg = compute_acg_images(s, u, np.zeros_like(u), n_units, fs, [int(duration * fs)])
    t1 = time.perf_counter()
    wf = normalize_templates(templates, fs, 30, model.config.waveform, channel_locations=locations)
    t2 = time.perf_counter()
    embed(model, acg, wf, projections=True)  # what nemo_embeddings computes by default
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


def interval(scores_a, labels, scores_b=None):
    """Balanced accuracy (or its difference) from per-unit correctness, with its 95 % bootstrap interval
    (units resampled within their class)."""
    scores_b = np.zeros_like(scores_a) if scores_b is None else scores_b
    mean, low, high = bootstrap_difference(scores_a, scores_b, n_boot=2000, seed=0, level=0.95, strata=labels)
    return dict(mean=mean, low=low, high=high)


def setting_features(train, test, models):
    """Feature matrices (probe-training units, test units) of every method."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    si_tr, si_te = impute(train["si_metrics"], test["si_metrics"])
    hand = [np.concatenate([d["si_metrics"], d["isi_acg"]], axis=1) for d in (train, test)]
    features = {"SI metrics": (si_tr, si_te), "hand-crafted": impute(*hand)}
    first = next(iter(models.values()))
    by_config = {}  # models with the same input config share their inputs
    for m in models.values():
        if m.config not in by_config:
            by_config[m.config] = (stacked_inputs(train, m.config), stacked_inputs(test, m.config))
    inputs = {name: by_config[m.config] for name, m in models.items()}
    (acg_tr, wf_tr), (acg_te, wf_te) = inputs[next(iter(models))]
    raw_tr = np.concatenate([wf_tr.reshape(len(wf_tr), -1), acg_tr.reshape(len(acg_tr), -1)], 1)
    raw_te = np.concatenate([wf_te.reshape(len(wf_te), -1), acg_te.reshape(len(acg_te), -1)], 1)
    scaler = StandardScaler().fit(raw_tr)
    pca = PCA(n_components=min(50, len(raw_tr) - 1), random_state=0).fit(scaler.transform(raw_tr))
    features["PCA"] = (pca.transform(scaler.transform(raw_tr)), pca.transform(scaler.transform(raw_te)))
    import torch

    torch.manual_seed(12345)
    random_model = NemoModel(first.config).eval()
    features["random NEMO"] = tuple(embedding_features(*embed(random_model, a, w, projections=True), DEFAULT_EMBEDDING)
                                    for a, w in ((acg_tr, wf_tr), (acg_te, wf_te)))
    for name, model in models.items():
        (a_tr, w_tr), (a_te, w_te) = inputs[name]
        (rep_tr, proj_tr), (rep_te, proj_te) = (embed(model, a, w, projections=True)
                                                for a, w in ((a_tr, w_tr), (a_te, w_te)))
        features[name] = (embedding_features(rep_tr, proj_tr, DEFAULT_EMBEDDING),
                          embedding_features(rep_te, proj_te, DEFAULT_EMBEDDING))
        features[f"{name}+metrics"] = (np.concatenate([features[name][0], si_tr], 1),
                                       np.concatenate([features[name][1], si_te], 1))
        features[f"{name} (representation)"] = (rep_tr, rep_te)
        features[f"{name} (representation+projections)"] = (embedding_features(rep_tr, proj_tr, EMBEDDING_PARTS),
                                                             embedding_features(rep_te, proj_te, EMBEDDING_PARTS))
    return features, inputs


def evaluate_setting(setting, train, test, models, args):
    """Balanced accuracies with intervals, and paired differences, of every method on one setting."""
    features, inputs = setting_features(train, test, models)
    if args.scaler == "all":
        # every probe-training unit's features are known, only labels are scarce: standardise on all of them
        from sklearn.preprocessing import StandardScaler

        features = {name: tuple(StandardScaler().fit(f_tr).transform(f) for f in (f_tr, f_te))
                    for name, (f_tr, f_te) in features.items()}
    out = {}
    for task in ("mtype", "cell_type"):
        y_tr, y_te = train[task], test[task]
        correct = {}
        for ratio in RATIOS:
            reps = 1 if ratio >= 1.0 else args.repeats
            for rep in range(reps):
                idx = labelled_subset(y_tr, ratio, np.random.default_rng(100 * rep + int(ratio * 1000)))
                for name, (f_tr, f_te) in features.items():
                    probe = make_linear_probe(standardize=args.scaler == "labelled")
                    pred = probe.fit(f_tr[idx], y_tr[idx]).predict(f_te)
                    correct.setdefault((ratio, name), []).append(pred == y_te)
                if ratio in (0.1, 1.0) and rep == 0 and args.finetune_epochs > 0:
                    name = next(iter(models))
                    (a_tr, w_tr), (a_te, w_te) = inputs[name]
                    # from scratch: a higher encoder learning rate than for fine-tuning the pretrained model
                    for label, base, learning_rate in (("supervised", None, 1e-3), (f"{name} fine-tuned", models[name], 1e-4)):
                        predict, _ = fine_tune(base, a_tr[idx], w_tr[idx], y_tr[idx], epochs=args.finetune_epochs,
                                               learning_rate=learning_rate, batch_size=64, seed=rep)
                        correct.setdefault((ratio, label), []).append(predict(a_te, w_te) == y_te)
        scores = {key: np.mean(v, axis=0, dtype=np.float64) for key, v in correct.items()}
        table = {f"{name} @ {ratio}": interval(c, y_te) for (ratio, name), c in scores.items()}
        pairs = [(m, "SI metrics") for m in models] + [(f"{m}+metrics", "SI metrics") for m in models]
        pairs += [(f"{m}+metrics", m) for m in models] + [(m, "hand-crafted") for m in models]
        pairs += [(m, f"{m} (representation)") for m in models] + [(m, f"{m} (representation+projections)")
                                                                     for m in models]
        diffs = {}
        for a, b in pairs:
            for ratio in RATIOS:
                diffs[f"{a} - {b} @ {ratio}"] = interval(scores[(ratio, a)], y_te, scores[(ratio, b)])
        out[task] = dict(accuracy=table, differences=diffs, num_test_units=int(len(y_te)),
                         num_classes=int(len(np.unique(y_te))))
        print_task(setting, task, out[task], list(dict.fromkeys(n for _, n in scores)), pairs)
    return out


def print_task(setting, task, result, names, pairs):
    fmt = lambda r: f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"  # noqa: E731
    print(f"\n== {setting}: {task} ({result['num_classes']} classes, {result['num_test_units']} test units; chance "
          f"{1 / result['num_classes']:.3f}) ==")
    print("balanced accuracy [95% bootstrap interval over test units], by fraction of labelled probe-training units")
    print(f"{'method':<24}" + "".join(f"{f'{int(r * 100)}% labels':>26}" for r in RATIOS))
    for name in names:
        cells = [fmt(result["accuracy"][k]) if (k := f"{name} @ {r}") in result["accuracy"] else "-" for r in RATIOS]
        print(f"{name:<24}" + "".join(f"{c:>26}" for c in cells))
    print("paired differences [95% bootstrap interval]")
    for a, b in pairs:
        cells = [fmt(result["differences"][f"{a} - {b} @ {r}"]).replace("0.", ".") for r in RATIOS]
        print(f"{f'{a} - {b}':<40}" + "".join(f"{c:>24}" for c in cells))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--train-recordings", type=int, default=3)
    p.add_argument("--test-recordings", type=int, default=8)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--units-per-mtype", type=int, default=3)
    p.add_argument("--probe", default="SqMEA-10-15", choices=("SqMEA-10-15", "Neuropixels-64"))
    p.add_argument("--first-test-recording", type=int, default=0,
                   help="index of the first test recording (seeds differ): choose models on some, report on others")
    p.add_argument("--test-template-seed", type=int, default=2,
                   help="NEURON template seed of the test cells (simulate_templates n_per_cell=25)")
    p.add_argument("--packaged-test-fold", action="store_true",
                   help="test cells from the packaged library's held-out fold instead (1 per m-type per recording)")
    p.add_argument("--scaler", choices=("all", "labelled"), default="all",
                   help="standardise features on every probe-training unit (labels are scarce, features are not) "
                        "or on the labelled ones only")
    p.add_argument("--finetune-epochs", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--model", nargs="*", default=None, help="saved NEMO models (default: the packaged one)")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "nemo_celltypes_cache")
    p.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    p.add_argument("--simulate-only", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.threads:
        __import__("torch").set_num_threads(args.threads)

    if args.model:
        models = {f"NEMO[{Path(m).stem}]": load_nemo_model(m) for m in args.model}
    else:
        models = {"NEMO": load_pretrained_model()}
    test_library = None if args.packaged_test_fold else simulate_templates(
        args.probe, n_per_cell=25, seed=args.test_template_seed)
    print("simulating (cached in", args.cache, ")", flush=True)
    data = {}
    for setting in args.settings:
        train = stack([simulate(setting, "train", i, args, args.cache, test_library) for i in range(args.train_recordings)])
        test = stack([simulate(setting, "test", args.first_test_recording + i, args, args.cache, test_library)
                      for i in range(args.test_recordings)])
        data[setting] = (train, test)
        print(f"{setting}: probe-training units {len(train['mtype'])} ({args.train_recordings} recordings, packaged "
              f"train fold); test units {len(test['mtype'])} ({args.test_recordings} held-out recordings, cells "
              f"{'of the packaged test fold' if test_library is None else f'of template seed {args.test_template_seed}'})")
    if args.simulate_only:
        return
    results = {setting: evaluate_setting(setting, *data[setting], models, args) for setting in args.settings}
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
        print("figures written to", args.output)

    if not args.skip_speed:
        model = next(iter(models.values()))
        sp = speed(model)
        print(f"\n== speed (CPU, {__import__('torch').get_num_threads()} torch threads) ==")
        print(f"embedding 1000 units ({sp['num_spikes']} spikes, 600 s): ACG images {sp['acg_s']:.2f} s, "
              f"waveforms {sp['waveform_s']:.2f} s, model {sp['model_s']:.2f} s, total {sp['total_s']:.2f} s "
              f"(target < 10 s)")
        print(f"3D ACGs of 10 units with a 2 s window: SpikeInterface acgs_3d {sp['si_acgs3d_10_units_s']:.2f} s, "
              f"ours {sp['ours_10_units_s']:.3f} s (x{sp['si_acgs3d_10_units_s'] / max(sp['ours_10_units_s'], 1e-9):.0f})")


if __name__ == "__main__":
    main()

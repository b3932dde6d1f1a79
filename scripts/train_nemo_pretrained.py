"""Train the default NEMO model shipped in ``si_amortized/nemo/pretrained/``.

Simulates MEArec recordings (packaged SqMEA-10-15 template library, "train" fold: 8 of the 12 templates of
each of the 13 BBP m-types; the other 4 are kept for the benchmark) driven by the cell-type-specific spike
trains of ``si_amortized.datasets.firing``; estimates templates from 100-500 random spikes per unit; computes
the 3D ACG images and normalized waveforms; trains NEMO with the paper's loss, augmentations and schedule,
choosing the checkpoint on the cross-modal retrieval of one held-out recording. Writes the weights (``.pt``) and
a JSON + Markdown record of everything above.

Usage: ``python scripts/train_nemo_pretrained.py [--recordings 10] [--duration 60] [--epochs 400]``
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from si_amortized.datasets import FIRING_PROFILES, simulate_celltype_analyzer
from si_amortized.nemo import NemoConfig, TrainConfig, AugmentConfig, prepare_inputs, save_nemo_model, train_nemo
from si_amortized.nemo.io import PRETRAINED_DIR


def simulate_inputs(args, config, workdir, first: int = 0):
    rng = np.random.default_rng(args.seed)
    for _ in range(first):  # same noise / spike-count draws as a run that simulated everything at once
        rng.uniform(10.0, 30.0)
        rng.integers(100, 501)
    records, acgs, wfs, labels, rec_index = [], [], [], [], []
    for r in range(first, args.recordings):
        seed = 1000 + args.seed * 100 + r
        noise = float(rng.uniform(10.0, 30.0))
        n_spk = int(rng.integers(100, 501))
        t0 = time.perf_counter()
        analyzer, path = simulate_celltype_analyzer(
            seed, output=Path(workdir) / f"pretrain_{seed}.h5", duration=args.duration,
            units_per_mtype=args.units_per_mtype, noise_level=noise, template_fold="train",
            spikes_for_templates=n_spk,
        )
        acg, wf = prepare_inputs(analyzer, config)
        acgs.append(acg)
        wfs.append(wf)
        labels.extend(analyzer.sorting.get_property("mtype").tolist())
        rec_index.append(np.full(acg.shape[0], r))
        records.append(dict(seed=seed, noise_level_uv=round(noise, 2), spikes_for_templates=n_spk,
                            num_units=int(acg.shape[0]), seconds=round(time.perf_counter() - t0, 1)))
        print(f"recording {r + 1}/{args.recordings}: seed {seed}, noise {noise:.1f} uV, {acg.shape[0]} units, "
              f"templates from <= {n_spk} spikes ({records[-1]['seconds']} s)", flush=True)
        del analyzer
        path.unlink(missing_ok=True)
    return np.concatenate(acgs), np.concatenate(wfs), np.array(labels), np.concatenate(rec_index), records


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--units-per-mtype", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is fastest on busy 2-core machines)")
    parser.add_argument("--cache", type=Path, default=None, help="npz of simulated inputs (reused if present)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    config = NemoConfig()
    t_start = time.perf_counter()
    acg = None
    if args.cache is not None and args.cache.is_file():
        d = np.load(args.cache, allow_pickle=False)
        acg, wf, labels, rec_index = d["acg"], d["wf"], d["labels"], d["rec_index"]
        records = json.loads(str(d["records"]))[: args.recordings]
        keep = rec_index < len(records)
        acg, wf, labels, rec_index = acg[keep], wf[keep], labels[keep], rec_index[keep]
        print(f"reusing {len(records)} simulated recordings from {args.cache}")
    if acg is None or len(records) < args.recordings:
        first = 0 if acg is None else len(records)
        with tempfile.TemporaryDirectory(prefix="nemo_pretrain_") as workdir:
            new = simulate_inputs(args, config, workdir, first=first)
        if acg is None:
            acg, wf, labels, rec_index, records = new
        else:
            acg, wf = np.concatenate([acg, new[0]]), np.concatenate([wf, new[1]])
            labels, rec_index = np.concatenate([labels, new[2]]), np.concatenate([rec_index, new[3]])
            records = records + new[4]
        if args.cache is not None:
            np.savez_compressed(args.cache, acg=acg, wf=wf, labels=labels, rec_index=rec_index,
                                records=json.dumps(records))
    t_sim = sum(r["seconds"] for r in records)  # wall time of the simulations (also when read from the cache)

    val = rec_index == rec_index.max()  # the last recording is held out for the checkpoint choice
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, eval_every=10)
    augment_config = AugmentConfig()
    t0 = time.perf_counter()
    model, history = train_nemo(
        acg[~val], wf[~val], config=config, train_config=train_config, augment_config=augment_config,
        validation=(acg[val], wf[val]), seed=args.seed, device=args.device, progress_bar=True,
    )
    t_train = time.perf_counter() - t0
    best = history["val_epoch"].index(history["best_epoch"]) if history["val_epoch"] else None
    args.out.mkdir(parents=True, exist_ok=True)
    weights = save_nemo_model(model, args.out / "nemo_mearec_default.pt",
                              metadata=dict(trained_by="scripts/train_nemo_pretrained.py"))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    record = dict(
        weights=weights.name,
        trained_by="scripts/train_nemo_pretrained.py",
        command=" ".join(["python scripts/train_nemo_pretrained.py"] + [
            f"--recordings {args.recordings}", f"--duration {args.duration}", f"--epochs {args.epochs}",
            f"--units-per-mtype {args.units_per_mtype}", f"--batch-size {args.batch_size}", f"--seed {args.seed}"]
            + ([f"--threads {args.threads}"] if args.threads else [])),
        git_commit=commit,
        date_utc=time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        torch=torch.__version__,
        python=platform.python_version(),
        device=str(args.device),
        simulation=dict(
            simulator="si_amortized.datasets.simulate_recording (MEArec), packaged SqMEA-10-15 template library",
            probe="SqMEA-10-15 (100 contacts, 15 um pitch)",
            template_fold="train: first 8 of the 12 templates of each m-type (the last 4 are for the benchmark)",
            cells_per_recording=f"{args.units_per_mtype} per m-type x 13 m-types",
            duration_s=args.duration,
            noise="uncorrelated, uniform 10-30 uV per recording (before MEArec's band-pass)",
            templates_from="100-500 random spikes per unit (drawn per recording), 1.5 ms before / 2.5 ms after",
            firing="si_amortized.datasets.firing profiles: gamma renewal + refractory + bursts + slow OU rate "
                   "modulation, per-unit parameters drawn around each m-type's values (overlapping between types)",
            firing_profiles={k: asdict(v) for k, v in FIRING_PROFILES.items()},
            recordings=records,
        ),
        data=dict(num_units=int(acg.shape[0]), num_train_units=int((~val).sum()), num_val_units=int(val.sum()),
                  validation="the last simulated recording (whole recording held out)",
                  mtype_counts={m: int((labels == m).sum()) for m in np.unique(labels)}),
        config=asdict(config),
        train_config=asdict(train_config),
        augment_config=asdict(augment_config),
        result=dict(best_epoch=history["best_epoch"],
                    best_val_retrieval_top1=history["val_retrieval"][best] if best is not None else None,
                    best_val_loss=history["val_loss"][best] if best is not None else None,
                    chance_retrieval=1.0 / max(1, int(val.sum())),
                    final_train_loss=history["train_loss"][-1],
                    simulation_seconds=round(t_sim, 1), training_seconds=round(t_train, 1)),
        history=dict(val_epoch=history["val_epoch"], val_retrieval=history["val_retrieval"],
                     val_loss=history["val_loss"], train_loss_every_10=history["train_loss"][::10]),
        caveats="Far fewer units (hundreds) and epochs than the paper (8699 units, 1500-6000 epochs); simulated "
                "cells only. Retrain on your own data for real recordings.",
    )
    (args.out / "nemo_mearec_default.json").write_text(json.dumps(record, indent=1))
    md = [
        "# Default NEMO model (`nemo_mearec_default.pt`)",
        "",
        f"Trained by `{record['command']}` on {record['date_utc']} UTC (commit {commit[:10]}), torch {torch.__version__}.",
        "",
        f"- Data: {args.recordings} simulated MEArec recordings x {args.duration:.0f} s, SqMEA-10-15, "
        f"{args.units_per_mtype} cells per m-type (13 BBP m-types) = {acg.shape[0]} units; "
        "templates from the 'train' fold of the packaged library (8 of 12 per m-type).",
        "- Noise 10-30 uV (uniform per recording); templates averaged from 100-500 random spikes per unit.",
        "- Firing: `si_amortized.datasets.firing` (gamma renewal, refractory period, bursts, slow rate "
        "modulation; per-unit parameters drawn around each m-type's profile, overlapping between types).",
        f"- Training: {args.epochs} epochs, batch {args.batch_size}, Adam 5e-4, cosine warm restarts T_0 = 20, "
        "paper augmentations, temperature 0.5; checkpoint = best retrieval on one held-out recording.",
        f"- Result: best epoch {history['best_epoch']}, validation top-1 retrieval "
        f"{(record['result']['best_val_retrieval_top1'] or float('nan')):.3f} "
        f"(chance {record['result']['chance_retrieval']:.3f}); "
        f"simulation {t_sim:.0f} s, training {t_train:.0f} s.",
        f"- Caveat: {record['caveats']}",
        "",
        "Full record: `nemo_mearec_default.json`.",
    ]
    (args.out / "README.md").write_text("\n".join(md) + "\n")
    print(json.dumps(record["result"], indent=1))


if __name__ == "__main__":
    main()

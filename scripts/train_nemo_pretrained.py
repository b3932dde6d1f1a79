"""Train the default NEMO model shipped in ``si_amortized/nemo/pretrained/``.

Corpus: synthetic units (``si_amortized.datasets.synthesize_unit_corpus``) drawn from simulated NEURON
templates of each of ``--probes``: the train fold of the packaged library (8 of 12 per m-type) and the NEURON
templates of ``--template-seeds`` (``simulate_templates(n_per_cell=25)``, the ``simulation`` extra; cached). Each unit gets
a spike train (half MEArec's default Poisson firing, half the m-type firing models that overlap), a template
averaged from 50-1000 spikes or every spike, with band-passed noise of 5-30 uV. 10 % of the templates (and
their units) are held out to choose the checkpoint (cross-modal retrieval). Template seed 2 and the packaged
test fold are the benchmark's test cells: never in this corpus.

``--label-weight W`` adds a supervised term to the CLIP loss: a linear head on the representation learns
excitatory vs inhibitory (from each template's m-type), weighted by W (0, the paper's self-supervised loss,
by default); the head is discarded.

Writes the weights (``.pt``) and a JSON + Markdown record of everything above.

``--checkpoint-dir DIR`` also saves the model at every validation epoch (``DIR/epoch_069.pt``, ...) with the
run's record (``DIR/record.json``), so that the checkpoint can be chosen on held-out recordings instead
(``benchmarks/nemo_celltypes.py --model DIR/epoch_*.pt --first-test-recording 0``); ``--package-epoch E
--checkpoint-dir DIR --choice "..."`` then writes that checkpoint as the packaged model, its record stating
the choice, without training again.

Usage: ``python scripts/train_nemo_pretrained.py [--units 6000] [--epochs 300] [--num-channels 1]
[--out DIR] [--name nemo_mearec_default] [--checkpoint-dir DIR]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shlex
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from si_amortized.datasets import library_fold, simulate_templates
from si_amortized.datasets.templates import cell_type_from_mtype
from si_amortized.datasets.unit_corpus import UnitCorpusConfig, synthesize_unit_corpus
from si_amortized.nemo import (
    AugmentConfig,
    NemoConfig,
    TrainConfig,
    load_nemo_model,
    save_nemo_model,
    train_nemo,
)
from si_amortized.nemo.inputs import inputs_from_arrays
from si_amortized.nemo.io import PRETRAINED_DIR

BENCHMARK_TEST_TEMPLATE_SEEDS = (2,)


def corpus_inputs(corpus: dict, config: NemoConfig):
    """ACG images and normalized waveforms of a synthetic corpus."""
    return inputs_from_arrays(corpus["sample_index"], corpus["unit_index"], len(corpus["mtype"]),
                              corpus["num_samples"], corpus["templates"], corpus["nbefore"],
                              corpus["sampling_frequency"], config, channel_locations=corpus["channel_locations"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=6000)
    parser.add_argument("--template-seeds", type=int, nargs="*", default=[1])
    parser.add_argument("--probes", nargs="+", default=["SqMEA-10-15"], choices=["SqMEA-10-15", "Neuropixels-64"],
                        help="template libraries (each probe's packaged train fold + its seeds); units split evenly")
    parser.add_argument("--num-channels", type=int, default=1, help="template channels: peak + nearest")
    parser.add_argument("--mearec-firing-fraction", type=float, default=0.5)
    parser.add_argument("--noise-uv", type=float, nargs=2, default=list(UnitCorpusConfig.noise_uv),
                        help="range of the units' noise level (uV, before MEArec's band-pass)")
    parser.add_argument("--spikes-for-templates", type=int, nargs=2, default=list(UnitCorpusConfig.spikes_for_templates),
                        help="range (log-uniform) of the spikes averaged into a template")
    parser.add_argument("--every-spike-fraction", type=float, default=UnitCorpusConfig.every_spike_fraction)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR)
    parser.add_argument("--name", default="nemo_mearec_default")
    parser.add_argument("--label-weight", type=float, default=0.0,
                        help="weight of an excitatory / inhibitory cross-entropy term on the representation")
    parser.add_argument("--init-model", type=Path, default=None,
                        help="continue training this saved model (same input config) instead of a new one")
    parser.add_argument("--checkpoint-dir", type=Path, default=None,
                        help="save the model at every validation epoch here, with the run's record")
    parser.add_argument("--package-epoch", type=int, default=None,
                        help="no training: package DIR/epoch_E.pt of --checkpoint-dir as --out/--name")
    parser.add_argument("--choice", default="", help="with --package-epoch: how the epoch was chosen (recorded)")
    args = parser.parse_args()
    if args.package_epoch is not None:
        if args.checkpoint_dir is None:
            parser.error("--package-epoch needs --checkpoint-dir")
        package_checkpoint(args.checkpoint_dir, args.package_epoch, args.choice, args.out, args.name)
        return
    leaked = set(args.template_seeds) & set(BENCHMARK_TEST_TEMPLATE_SEEDS)
    if leaked:
        parser.error(f"template seeds {sorted(leaked)} hold the benchmark's test cells")
    if args.threads:
        torch.set_num_threads(args.threads)

    t_start = time.perf_counter()
    waveform = dataclasses.replace(NemoConfig().waveform, num_channels=args.num_channels)
    config = dataclasses.replace(NemoConfig(), waveform=waveform)
    init = None  # checked before the corpus is built
    if args.init_model is not None:
        init = load_nemo_model(args.init_model)
        if init.config != config:
            parser.error(f"--init-model {args.init_model} has another input or model config than this corpus")
    corpus_config = UnitCorpusConfig(num_units=args.units // len(args.probes),
                                     mearec_firing_fraction=args.mearec_firing_fraction,
                                     noise_uv=tuple(args.noise_uv),
                                     spikes_for_templates=tuple(args.spikes_for_templates),
                                     every_spike_fraction=args.every_spike_fraction)
    parts, num_templates = [], 0
    for p, probe in enumerate(args.probes):
        libraries = [library_fold(probe, "train")] + [simulate_templates(probe, n_per_cell=25, seed=s)
                                                       for s in args.template_seeds]
        corpus = synthesize_unit_corpus(libraries, corpus_config, seed=args.seed + 1000 * p)
        # template ids unique across probes (the checkpoint holds whole templates out)
        parts.append((*corpus_inputs(corpus, config), corpus["mtype"], corpus["template_index"] + num_templates))
        num_templates += sum(len(lib.mtypes) for lib in libraries)
    acg, wf, mtypes, template_index = (np.concatenate(column) for column in zip(*parts))
    t_corpus = time.perf_counter() - t_start
    print(f"corpus: {len(acg)} units from {num_templates} templates ({t_corpus:.0f} s)")

    # whole templates held out for the checkpoint choice
    rng = np.random.default_rng(args.seed)
    templates = np.unique(template_index)
    held = rng.choice(templates, max(1, len(templates) // 10), replace=False)
    val = np.isin(template_index, held)
    labels = np.array([cell_type_from_mtype(m) == "I" for m in mtypes], dtype=np.int64)  # 0: E, 1: I
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, eval_every=10)
    augment_config = AugmentConfig()
    on_evaluate = None
    if args.checkpoint_dir is not None:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)

        def on_evaluate(epoch, model):
            save_nemo_model(model, args.checkpoint_dir / f"epoch_{epoch:03d}.pt",
                            metadata=dict(trained_by="scripts/train_nemo_pretrained.py", epoch=epoch))

    t0 = time.perf_counter()
    model, history = train_nemo(
        acg[~val], wf[~val], config=config, model=init, train_config=train_config, augment_config=augment_config,
        validation=(acg[val], wf[val]), seed=args.seed, device=args.device, progress_bar=True,
        on_evaluate=on_evaluate, labels=labels[~val], label_weight=args.label_weight,
    )
    t_train = time.perf_counter() - t0
    best = history["val_epoch"].index(history["best_epoch"]) if history["val_epoch"] else None
    args.out.mkdir(parents=True, exist_ok=True)
    weights = save_nemo_model(model, args.out / f"{args.name}.pt",
                              metadata=dict(trained_by="scripts/train_nemo_pretrained.py"))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    command = ["python scripts/train_nemo_pretrained.py", f"--units {args.units}",
               f"--template-seeds {' '.join(map(str, args.template_seeds))}", f"--probes {' '.join(args.probes)}",
               f"--num-channels {args.num_channels}",
               f"--mearec-firing-fraction {args.mearec_firing_fraction}",
               f"--noise-uv {args.noise_uv[0]:g} {args.noise_uv[1]:g}",
               f"--spikes-for-templates {args.spikes_for_templates[0]} {args.spikes_for_templates[1]}",
               f"--every-spike-fraction {args.every_spike_fraction:g}", f"--epochs {args.epochs}",
               f"--batch-size {args.batch_size}", f"--seed {args.seed}"] + (
        [f"--threads {args.threads}"] if args.threads else []) + (
        [f"--label-weight {args.label_weight:g}"] if args.label_weight else []) + (
        [f"--init-model {args.init_model.name}"] if args.init_model else [])
    record = dict(
        weights=weights.name,
        trained_by="scripts/train_nemo_pretrained.py",
        command=" ".join(command),
        git_commit=commit,
        date_utc=time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        torch=torch.__version__,
        python=platform.python_version(),
        device=str(args.device),
        corpus=dict(
            generator="si_amortized.datasets.synthesize_unit_corpus (spike trains + band-passed templates with "
                      "averaged band-passed noise; no MEArec recording)",
            probes=list(args.probes),
            templates=["packaged library of each probe, train fold: first 8 of the 12 templates of each m-type"]
                      + [f"simulate_templates(probe, n_per_cell=25, seed={s})" for s in args.template_seeds],
            not_trained_on="packaged libraries' test folds (last 4 per m-type) and NEURON template seed(s) "
                           f"{list(BENCHMARK_TEST_TEMPLATE_SEEDS)}: the benchmark's test cells",
            num_templates=int(num_templates),
            config=asdict(corpus_config),
            seed=args.seed,
        ),
        data=dict(num_units=int(len(acg)), num_train_units=int((~val).sum()), num_val_units=int(val.sum()),
                  validation=f"units of {len(held)} held-out templates",
                  mtype_counts={m: int((mtypes == m).sum()) for m in np.unique(mtypes)}),
        config=asdict(config),
        train_config=asdict(train_config),
        initialised_from=init_model_lineage(args.init_model),
        loss=("symmetric CLIP" if not args.label_weight else
              f"symmetric CLIP + {args.label_weight:g} x cross-entropy of excitatory / inhibitory (from each "
              "template's m-type) by a linear head on the representation (head discarded)"),
        augment_config=asdict(augment_config),
        result=dict(best_epoch=history["best_epoch"],
                    best_val_retrieval_top1=history["val_retrieval"][best] if best is not None else None,
                    best_val_loss=history["val_loss"][best] if best is not None else None,
                    chance_retrieval=1.0 / max(1, int(val.sum())),
                    final_train_loss=history["train_loss"][-1],
                    corpus_seconds=round(t_corpus, 1), training_seconds=round(t_train, 1)),
        history=dict(val_epoch=history["val_epoch"], val_retrieval=history["val_retrieval"],
                     val_loss=history["val_loss"], train_loss_every_10=history["train_loss"][::10],
                     **({"train_label_loss_every_10": history["train_label_loss"][::10]}
                        if "train_label_loss" in history else {})),
        caveats=f"Simulated cells only (13 BBP layer-5 m-types; {', '.join(args.probes)}); fewer epochs than the "
                "paper (1500-6000). Retrain or fine-tune on your own data for real recordings.",
    )
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=1))
    if args.checkpoint_dir is not None:
        (args.checkpoint_dir / "record.json").write_text(json.dumps(record, indent=1))
    write_markdown(record, args.out, args.name)
    print(json.dumps(record["result"], indent=1))


def init_model_lineage(path: Path | None) -> dict | None:
    """What ``--init-model`` was: its file and, when its record (``<stem>.json``) lies beside it, how it was made."""
    if path is None:
        return None
    lineage = dict(file=path.name)
    record_path = path.with_suffix(".json")
    if record_path.is_file():
        earlier = json.loads(record_path.read_text())
        lineage.update({key: earlier[key] for key in ("command", "packaged_command", "git_commit", "date_utc",
                                                       "loss", "checkpoint_choice", "initialised_from")
                        if key in earlier})
        lineage["corpus_seed"] = earlier.get("corpus", {}).get("seed")
    return lineage


def package_checkpoint(checkpoint_dir: Path, epoch: int, choice: str, out: Path, name: str) -> None:
    """Write ``checkpoint_dir/epoch_{epoch}.pt`` as the model ``out/name``, with the run's record amended."""
    record = json.loads((checkpoint_dir / "record.json").read_text())
    path = checkpoint_dir / f"epoch_{epoch:03d}.pt"
    if not path.is_file() or epoch not in record["history"]["val_epoch"]:
        raise SystemExit(f"no checkpoint of epoch {epoch} in {checkpoint_dir} (validation epochs: "
                         f"{record['history']['val_epoch']})")
    if not choice:
        raise SystemExit("--choice must say how the epoch was chosen")
    out.mkdir(parents=True, exist_ok=True)
    weights = save_nemo_model(load_nemo_model(path), out / f"{name}.pt",
                              metadata=dict(trained_by="scripts/train_nemo_pretrained.py", epoch=epoch))
    k = record["history"]["val_epoch"].index(epoch)
    record["weights"] = weights.name
    record["result"].update(retrieval_best_epoch=record["result"]["best_epoch"], best_epoch=epoch,
                            best_val_retrieval_top1=record["history"]["val_retrieval"][k],
                            best_val_loss=record["history"]["val_loss"][k])
    record["checkpoint_choice"] = choice
    record["packaged_command"] = (f"python scripts/train_nemo_pretrained.py --checkpoint-dir {checkpoint_dir.name} "
                                  f"--package-epoch {epoch} --choice {shlex.quote(choice)}")
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    write_markdown(record, out, name)
    print(f"packaged epoch {epoch} as {weights}")


def _lineage_lines(lineage: dict | None, depth: int = 0) -> list[str]:
    """Markdown lines for the chain of ``--init-model`` starting points."""
    if not lineage:
        return []
    line = "  " * depth + f"- Initialised from {lineage['file']}"
    if "command" in lineage:
        line += f", trained by `{lineage['command']}` on {lineage.get('date_utc', '?')} UTC"
        line += f" ({lineage['loss']})" if "loss" in lineage else " (symmetric CLIP)"
    return [line + "."] + _lineage_lines(lineage.get("initialised_from"), depth + 1)


def write_markdown(record: dict, out: Path, name: str) -> None:
    """The record as Markdown (``README.md`` for the packaged default model)."""
    corpus_config = record["corpus"]["config"]
    result = record["result"]
    choice = record.get("checkpoint_choice", "best retrieval on the units of held-out templates")
    md = [
        f"# Default NEMO model (`{record['weights']}`)",
        "",
        f"Trained by `{record['command']}` on {record['date_utc']} UTC (commit {record['git_commit'][:10]}), "
        f"torch {record['torch']}.",
        "",
        f"- Corpus: {record['data']['num_units']} synthetic units ({record['corpus']['generator']}) from "
        f"{record['corpus']['num_templates']} NEURON templates of {', '.join(record['corpus']['probes'])}: "
        + "; ".join(record["corpus"]["templates"]) + ".",
        f"- Not trained on: {record['corpus']['not_trained_on']}.",
        f"- Units: noise {corpus_config['noise_uv'][0]:.0f}-{corpus_config['noise_uv'][1]:.0f} uV; templates from "
        f"{corpus_config['spikes_for_templates'][0]}-{corpus_config['spikes_for_templates'][1]} spikes "
        f"(log-uniform) or every spike ({corpus_config['every_spike_fraction']:.0%}); "
        f"{corpus_config['mearec_firing_fraction']:.0%} with MEArec's default Poisson firing, the others with the "
        "m-type firing models of `si_amortized.datasets.firing`.",
        f"- Input: 3D ACG images and {record['config']['waveform']['num_channels']}-channel normalized templates.",
        f"- Training: {record['train_config']['epochs']} epochs, batch {record['train_config']['batch_size']}, "
        "Adam 5e-4, cosine warm restarts T_0 = 20, paper augmentations, temperature 0.5; checkpoint: "
        f"{choice}.",
        f"- Loss: {record.get('loss', 'symmetric CLIP')}.",
    ] + _lineage_lines(record.get("initialised_from")) + [
        f"- Result: epoch {result['best_epoch']}, validation top-1 retrieval "
        f"{(result['best_val_retrieval_top1'] or float('nan')):.3f} "
        f"(chance {result['chance_retrieval']:.4f}); corpus {result['corpus_seconds']:.0f} s, training "
        f"{result['training_seconds']:.0f} s.",
        f"- Caveat: {record['caveats']}",
        "",
        f"Full record: `{name}.json`. Measured against SpikeInterface's metrics: `benchmarks/nemo_celltypes.py`.",
    ]
    (out / f"{name}.md" if name != "nemo_mearec_default" else out / "README.md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: the three methods on a CUDA GPU against the same machine's CPU, in one run.

What a user with a GPU asks: is ``device="cuda"`` faster than the CPU, does it give the same results, and which
job kwargs should go with it. Every figure below is measured in the same process, on the same machine:

* **VAE localization** on the ground-truth spikes of a MEArec recording simulated from the packaged templates
  (SqMEA-10-15, 30 E + 7 I cells, 10 uV, seed 21; saved as a binary folder first). Cases, interleaved in
  rounds after a warm-up round: SpikeInterface's ``center_of_mass`` (the speed reference; ratios are its best
  time over each case's best time, > 1 is faster) and ``monopolar_triangulation`` (one round: it is slow);
  the shipped localizer (``model="pretrained"``) on the CPU with ``n_jobs`` workers, and on CUDA in one
  process, with ``n_jobs`` forked workers and with ``n_jobs`` spawned workers. The CUDA locations are compared
  with the CPU's (max abs difference, um). Then training + inference of the recording's spikes
  (``model=None``, ``max_spikes=20000``) on the CPU and on CUDA, and two seeded CUDA trainings compared.
* **NEMO** training (``train_nemo``) on synthetic paired ACG images / waveforms, CPU against CUDA, and two
  seeded CUDA trainings compared.
* **Roll-AE** fitting on the paper's synthetic wells, CPU against CUDA, and two seeded CUDA fits compared.

Without CUDA the CUDA cases are skipped and the CPU figures still print.

Usage: python benchmarks/gpu.py [--duration 30] [--n-jobs N] [--rounds 2] [--json FILE] [--sections ...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

import si_amortized  # noqa: F401  (registers the plugin's extensions)


def _best(times: list[float]) -> float:
    return float(min(times)) if times else float("nan")


def _xyz(ext) -> np.ndarray:
    data = ext.get_data()
    return np.stack([data["x"], data["y"], data["z"]], axis=1).astype(np.float64)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def localization_section(args, cuda: bool, folder: Path) -> dict:
    """Speed and agreement of ``vae_locations`` on the CPU and on CUDA, with SpikeInterface's localizers."""
    import spikeinterface.core as sc

    from si_amortized.datasets import load_mearec, simulate_recording

    t0 = time.perf_counter()
    path = simulate_recording("SqMEA-10-15", n_exc=30, n_inh=7, duration=args.duration, noise_level=10.0,
                              seed=21, output=folder / "sqmea_seed21.h5", n_jobs=args.n_jobs)
    recording, gt_sorting = load_mearec(path)
    recording = recording.save(folder=folder / "recording", n_jobs=args.n_jobs, progress_bar=False)
    analyzer = sc.create_sorting_analyzer(gt_sorting, recording, sparse=False, format="memory")
    analyzer.compute("random_spikes", seed=0)
    analyzer.compute("templates", n_jobs=args.n_jobs, progress_bar=False)
    num_spikes = int(gt_sorting.count_total_num_spikes())
    print(f"recording: {recording.get_num_channels()} channels, {args.duration:g} s, {num_spikes} spikes "
          f"(simulated and saved in {time.perf_counter() - t0:.1f} s)", flush=True)

    many = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    one = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
    cases = {
        "center_of_mass": ("spike_locations", dict(method="center_of_mass", **many)),
        "vae pretrained, cpu": ("vae_locations", dict(model="pretrained", device="cpu", **many)),
    }
    if cuda:
        cases["vae pretrained, cuda, n_jobs=1"] = ("vae_locations", dict(model="pretrained", device="cuda", **one))
        cases["vae pretrained, cuda, forked workers"] = (
            "vae_locations", dict(model="pretrained", device="cuda", **many))
        cases["vae pretrained, cuda, spawned workers"] = (
            "vae_locations", dict(model="pretrained", device="cuda", mp_context="spawn", **many))
    times = {name: [] for name in cases}
    locations, errors = {}, {}
    for round_index in range(args.rounds + 1):  # round 0 warms up (numba, torch, CUDA context, the shipped file)
        for name, (extension, kwargs) in cases.items():
            if name in errors:
                continue
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    ext = analyzer.compute(extension, **kwargs)
            except Exception as error:  # noqa: BLE001  (reported, the other cases go on)
                errors[name] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                continue
            elapsed = time.perf_counter() - t0
            if round_index:
                times[name].append(elapsed)
            if extension == "vae_locations":
                locations[name] = _xyz(ext)
                if round_index == 0 and caught:
                    print(f"   {name}: warnings {sorted({str(w.message)[:120] for w in caught})}")
    t0 = time.perf_counter()
    analyzer.compute("spike_locations", method="monopolar_triangulation", **many)
    times["monopolar_triangulation"] = [time.perf_counter() - t0]

    reference = _best(times["center_of_mass"])
    rows = {}
    for name, ts in times.items():
        if not ts:
            continue
        rows[name] = dict(best_s=_best(ts), median_s=float(np.median(ts)), spikes_per_s=num_spikes / _best(ts),
                          ratio_to_center_of_mass=reference / _best(ts))
    cpu = locations.get("vae pretrained, cpu")
    agreement = {name: _max_abs(loc, cpu) for name, loc in locations.items() if cpu is not None and name != "vae pretrained, cpu"}

    training = {}
    for device in ["cpu"] + (["cuda", "cuda"] if cuda else []):
        job = many if device == "cpu" else one
        t0 = time.perf_counter()
        ext = analyzer.compute("vae_locations", model=None, max_spikes=20000, seed=0, device=device, **job)
        elapsed = time.perf_counter() - t0
        key = device if device not in training else "cuda (again)"
        training[key] = dict(train_and_infer_s=elapsed, locations=_xyz(ext))
    summary = {name: dict(train_and_infer_s=v["train_and_infer_s"]) for name, v in training.items()}
    if "cuda (again)" in training:
        summary["cuda_repeat_max_abs_um"] = _max_abs(training["cuda"]["locations"], training["cuda (again)"]["locations"])
        summary["cuda_vs_cpu_median_abs_um"] = float(np.median(np.abs(training["cuda"]["locations"]
                                                                      - training["cpu"]["locations"])))

    print(f"\nLocalization of {num_spikes} spikes, n_jobs={args.n_jobs}, best of {args.rounds} rounds "
          f"(monopolar: one):")
    print(f"{'case':40s} {'best s':>8s} {'median s':>9s} {'spikes/s':>10s} {'x com':>7s}")
    for name, row in rows.items():
        print(f"{name:40s} {row['best_s']:8.2f} {row['median_s']:9.2f} {row['spikes_per_s']:10.0f} "
              f"{row['ratio_to_center_of_mass']:7.2f}")
    for name, error in errors.items():
        print(f"{name:40s} failed: {error}")
    for name, diff in agreement.items():
        print(f"max |{name} - cpu| = {diff:.2e} um")
    print("training + inference (model=None, max_spikes=20000): "
          + ", ".join(f"{k} {v['train_and_infer_s']:.1f} s" for k, v in training.items()))
    for key in ("cuda_repeat_max_abs_um", "cuda_vs_cpu_median_abs_um"):
        if key in summary:
            print(f"   {key}: {summary[key]:.3g}")
    return dict(num_spikes=num_spikes, n_jobs=args.n_jobs, rows=rows, errors=errors, agreement_um=agreement,
                training=summary)


def _paired_units(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic NEMO inputs: ACG images (n, 10, 101) and waveforms (n, 1, 90) driven by a shared latent."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 4))
    lags = np.linspace(0, 1, 101)
    acg = np.abs(latent[:, :1, None] * np.sin(3 * lags) + latent[:, 1:2, None] * lags) * np.ones((1, 10, 1))
    acg = acg + 0.05 * rng.random((n, 10, 101))
    t = np.linspace(-1, 2, 90)
    wf = -np.exp(-((t / (0.2 + 0.05 * np.abs(latent[:, 2:3]))) ** 2)) + 0.3 * latent[:, 3:4] * np.exp(-((t - 0.6) ** 2))
    return acg.astype(np.float32), wf[:, None, :].astype(np.float32)


def _cpu_and_cuda(cuda: bool, fit_and_embed) -> tuple[dict, dict]:
    """``fit_and_embed(device) -> (figures, embeddings)`` on the CPU, then twice on CUDA (the second: warm, and
    the seeded repeat); ``cuda_repeat_max_abs`` compares the repeats' embeddings."""
    out, embeddings = {}, {}
    for name, device in [("cpu", "cpu")] + ([("cuda", "cuda"), ("cuda (again)", "cuda")] if cuda else []):
        out[name], embeddings[name] = fit_and_embed(device)
    if cuda:
        out["cuda_repeat_max_abs"] = _max_abs(embeddings["cuda"], embeddings["cuda (again)"])
    return out


def _print_runs(title: str, out: dict, what: str) -> None:
    runs = ", ".join(f"{k} {v['seconds']:.1f} s" + (f" (loss {v['final_loss']:.3f})" if "final_loss" in v else "")
                     for k, v in out.items() if isinstance(v, dict))
    print(f"\n{title}: {runs}")
    if "cuda_repeat_max_abs" in out:
        print(f"   two seeded CUDA {what}: max |embedding difference| {out['cuda_repeat_max_abs']:.3g}")


def nemo_section(args, cuda: bool) -> dict:
    """``train_nemo`` on the CPU and on CUDA (same data, same seed); seconds: the training alone."""
    from si_amortized.nemo import TrainConfig, embed, train_nemo

    acg, wf = _paired_units(args.nemo_units)
    config = TrainConfig(epochs=args.nemo_epochs, batch_size=1024, eval_every=args.nemo_epochs)

    def fit_and_embed(device):
        t0 = time.perf_counter()
        model, history = train_nemo(acg, wf, train_config=config, seed=0, device=device, progress_bar=False)
        figures = dict(seconds=time.perf_counter() - t0, final_loss=float(history["train_loss"][-1]))
        return figures, embed(model, acg, wf, device=device)

    out = _cpu_and_cuda(cuda, fit_and_embed)
    _print_runs(f"NEMO: {args.nemo_units} units, {args.nemo_epochs} epochs, batch 1024", out, "trainings")
    return out


def rollae_section(args, cuda: bool) -> dict:
    """``RollAE.fit`` on the CPU and on CUDA (same wells, same seed); seconds: the fit alone."""
    from si_amortized.rollae import RollAE, make_synthetic_dataset
    from si_amortized.rollae.symmetry import axion_323_positions

    X, _ = make_synthetic_dataset(n_per_class=args.rollae_per_class, seed=0)

    def fit_and_embed(device):
        t0 = time.perf_counter()
        model = RollAE(axion_323_positions(), epochs=args.rollae_epochs, seed=0, device=device).fit(X)
        return dict(seconds=time.perf_counter() - t0), model.transform(X, device=device)

    out = _cpu_and_cuda(cuda, fit_and_embed)
    _print_runs(f"Roll-AE: {X.shape[0]} wells x {X.shape[1]} electrodes x {X.shape[2]} bins, "
                f"{args.rollae_epochs} epochs", out, "fits")
    return out


SECTIONS = {"localization": localization_section, "nemo": nemo_section, "rollae": rollae_section}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of simulated recording")
    parser.add_argument("--n-jobs", type=int, default=min(os.cpu_count() or 1, 16))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nemo-units", type=int, default=4096)
    parser.add_argument("--nemo-epochs", type=int, default=10)
    parser.add_argument("--rollae-per-class", type=int, default=100)
    parser.add_argument("--rollae-epochs", type=int, default=10)
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--json", type=Path, default=None, help="write the figures there")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    device_name = torch.cuda.get_device_name(0) if cuda else "none"
    print(f"torch {torch.__version__}, CUDA: {device_name}, {os.cpu_count()} CPU cores, n_jobs={args.n_jobs}",
          flush=True)
    results = dict(torch=torch.__version__, cuda_device=device_name, cpu_count=os.cpu_count())
    with tempfile.TemporaryDirectory(prefix="si_amortized_gpu_") as tmp:
        for name in args.sections:
            t0 = time.perf_counter()
            try:
                kwargs = dict(folder=Path(tmp)) if name == "localization" else {}
                results[name] = SECTIONS[name](args, cuda, **kwargs)
            except Exception as error:  # noqa: BLE001  (one section's failure must not hide the others)
                traceback.print_exc()
                results[name] = dict(error=f"{type(error).__name__}: {error}")
            print(f"[{name}: {time.perf_counter() - t0:.0f} s]", flush=True)
            if args.json is not None:
                args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()

"""Build the small template library packaged in si_amortized/datasets/library/.

Needs the simulation extra (NEURON < 9, LFPy). Run from the repository root:

    python scripts/build_template_library.py --n-per-cell 12

It simulates ``n_per_cell`` templates for each of MEArec's 13 BBP cell models on each packaged probe
(somas 10-80 um from the probe plane, physiological rotations, amplitude >= 30 uV, seed 0) and stores
them as float16 in compressed .npz files (a few MB each).
"""

import argparse
import time
from pathlib import Path

from si_amortized.datasets.templates import LIBRARY_FOLDER, LIBRARY_PROBES, simulate_templates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-per-cell", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--probes", nargs="*", default=list(LIBRARY_PROBES))
    parser.add_argument("--output", type=Path, default=LIBRARY_FOLDER)
    args = parser.parse_args()
    for probe in args.probes:
        t0 = time.perf_counter()
        library = simulate_templates(probe, n_per_cell=args.n_per_cell, seed=args.seed, n_jobs=args.n_jobs, verbose=True)
        path = library.save(args.output / f"templates_{probe}.npz")
        print(
            f"{probe}: {len(library.templates)} templates {library.templates.shape[1:]} "
            f"in {time.perf_counter() - t0:.0f} s -> {path} ({path.stat().st_size / 1e6:.1f} MB)"
        )


if __name__ == "__main__":
    main()

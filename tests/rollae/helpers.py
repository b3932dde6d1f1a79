"""Data shared by the Roll-AE tests (and the Roll-AE plot tests)."""

import numpy as np
import probeinterface as pi
import torch
from spikeinterface.core import generate_ground_truth_recording

from si_amortized.rollae.symmetry import axion_323_positions, layout_symmetries

FS = 10000.0
DUR = 6.0


def plate_recording(n_wells=2, seed=0):
    rec, sorting = generate_ground_truth_recording(
        durations=[DUR], sampling_frequency=FS, num_channels=8 * n_wells, num_units=6 * n_wells, seed=seed
    )
    pg = pi.ProbeGroup()
    for w in range(n_wells):
        p = pi.Probe(ndim=2, si_units="um")
        p.set_contacts(positions=axion_323_positions(200.0) + [w * 3000.0, 0.0], shapes="circle", shape_params={"radius": 15})
        pg.add_probe(p)
    pg.set_global_device_channel_indices(np.arange(8 * n_wells))
    rec.set_probegroup(pg)
    return rec, sorting


def sym323():
    return torch.as_tensor(layout_symmetries(axion_323_positions()))


def poisson_wells(n=12, d=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.uniform(0.05, 1.0, size=(n, 8, 1)), size=(n, 8, d)).astype(np.float32)


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b"], 40)
    X = rng.normal(size=(80, 5)) + np.where(labels == "a", 0.0, 3.0)[:, None]
    return X, labels

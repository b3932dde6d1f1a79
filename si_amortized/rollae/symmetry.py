"""Symmetry group of an electrode layout: the permutations of contacts that preserve all distances.

A permutation ``p`` of the electrodes is a layout symmetry when ``|pos[p[i]] - pos[p[j]]| == |pos[i] - pos[j]|``
for every pair ``(i, j)``. Such a map fixes the centroid and extends to an orthogonal transform of the
centred positions, so it is found by choosing a basis of contacts, enumerating the contacts that can be
their images (same norm, same pairwise distances), solving the orthogonal transform and matching all
contacts. Cost: a few candidate transforms, each ``O(n log n)``; fine for thousands of contacts.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "layout_symmetries",
    "axion_323_positions",
    "grid_positions",
    "line_positions",
    "check_positions",
]


def check_positions(positions) -> np.ndarray:
    """Validate electrode positions and return them as a float array ``(num_electrodes, ndim)``.

    Raises ``ValueError`` for non-finite entries (an electrode with no position), duplicated contacts,
    or a wrong shape.
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim == 1:
        pos = pos[:, None]
    if pos.ndim != 2 or pos.shape[0] == 0:
        raise ValueError(f"electrode positions must have shape (num_electrodes, ndim), got {pos.shape}")
    bad = ~np.all(np.isfinite(pos), axis=1)
    if bad.any():
        raise ValueError(
            f"electrodes {np.flatnonzero(bad).tolist()} have no (finite) position; every electrode needs a position"
        )
    if pos.shape[0] > 1:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1) if pos.shape[0] <= 4096 else None
        if d is not None:
            np.fill_diagonal(d, np.inf)
            if np.min(d) == 0.0:
                i, j = np.argwhere(d == 0.0)[0]
                raise ValueError(f"electrodes {i} and {j} share the same position {pos[i].tolist()}")
    return pos


def _scale(pos: np.ndarray) -> float:
    if pos.shape[0] < 2:
        return 1.0
    tree = cKDTree(pos)
    d, _ = tree.query(pos, k=2)
    return float(np.min(d[:, 1]))


def layout_symmetries(positions, rtol: float = 1e-4) -> np.ndarray:
    """All distance-preserving permutations of an electrode layout.

    Parameters
    ----------
    positions : array-like, shape (num_electrodes, ndim)
        Contact positions (any units, any dimension).
    rtol : float, default: 1e-4
        Tolerance relative to the smallest inter-electrode distance.

    Returns
    -------
    np.ndarray, shape (num_symmetries, num_electrodes), int
        Row ``g`` is a permutation ``p`` with ``pos[p] ==`` an isometric image of ``pos``; meaning electrode
        ``i`` goes to the place of electrode ``p[i]``. The identity is row 0. The rows form a group.
        Examples: Axion 3-2-3 well -> 4, square grid -> 8, line -> 2.
    """
    pos = check_positions(positions)
    n = pos.shape[0]
    identity = np.arange(n)
    if n == 1:
        return identity[None, :]
    centred = pos - pos.mean(axis=0)
    # coordinates in the affine hull
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    scale = _scale(pos)
    tol = rtol * scale
    rank = int(np.sum(s > 1e-9 * max(s[0], 1e-300)))
    if rank == 0:
        return identity[None, :]
    coords = centred @ vt[:rank].T  # (n, rank)
    norms = np.linalg.norm(coords, axis=1)

    # choose a basis: rank points, largest norms first, linearly independent
    basis: list[int] = []
    order = np.argsort(-norms, kind="stable")
    for idx in order:
        trial = coords[basis + [idx]]
        if np.linalg.matrix_rank(trial, tol=1e-6 * scale) == len(basis) + 1:
            basis.append(int(idx))
        if len(basis) == rank:
            break
    b = coords[basis]  # (rank, rank)
    b_inv = np.linalg.inv(b)

    tree = cKDTree(coords)
    found: dict[tuple, np.ndarray] = {}
    candidate_lists = [np.flatnonzero(np.abs(norms - norms[i]) <= tol) for i in basis]

    def extend(chosen: list[int]):
        level = len(chosen)
        if level == rank:
            target = coords[chosen]
            q = b_inv @ target  # coords @ q maps basis rows onto target rows
            if not np.allclose(q.T @ q, np.eye(rank), atol=1e-6 + 10 * tol / max(norms.max(), 1e-300)):
                return
            mapped = coords @ q
            dist, idx = tree.query(mapped, k=1)
            if np.all(dist <= 10 * tol) and len(np.unique(idx)) == n:
                found[tuple(idx.tolist())] = idx
            return
        i = basis[level]
        for c in candidate_lists[level]:
            if c in chosen:
                continue
            ok = all(
                abs(np.linalg.norm(coords[c] - coords[chosen[m]]) - np.linalg.norm(coords[i] - coords[basis[m]])) <= tol
                for m in range(level)
            )
            if ok:
                extend(chosen + [int(c)])

    extend([])
    perms = [identity] + [p for key, p in found.items() if key != tuple(identity.tolist())]
    return np.asarray(perms, dtype=np.int64)


def axion_323_positions(pitch: float = 1.0) -> np.ndarray:
    """The 8-electrode well of the paper (rows of 3, 2, 3; the middle pair sits between the columns).

    Electrode 0 and 1 are ``pitch`` apart (the unit distance of the paper's generator).

    Returns
    -------
    np.ndarray, shape (8, 2)
    """
    rows = [(0.0, [0.0, 1.0, 2.0]), (1.0, [0.5, 1.5]), (2.0, [0.0, 1.0, 2.0])]
    pts = [(x, y) for y, xs in rows for x in xs]
    return pitch * np.asarray(pts, dtype=float)


def grid_positions(n_rows: int, n_cols: int, pitch: float = 1.0) -> np.ndarray:
    """Rectangular grid of contacts, row-major, shape ``(n_rows * n_cols, 2)``."""
    ys, xs = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    return pitch * np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)


def line_positions(n: int, pitch: float = 1.0) -> np.ndarray:
    """Contacts on a line, shape ``(n, 2)``."""
    return pitch * np.stack([np.arange(n, dtype=float), np.zeros(n)], axis=1)


def _is_group(perms: np.ndarray) -> bool:
    keys = {tuple(p) for p in perms}
    return all(tuple(p[q]) in keys for p, q in itertools.product(perms, perms))

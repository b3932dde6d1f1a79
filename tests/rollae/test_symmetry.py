import itertools

import numpy as np
import pytest

from si_amortized.rollae.symmetry import (
    axion_323_positions,
    check_positions,
    grid_positions,
    layout_symmetries,
    line_positions,
)


def _naive_symmetries(pos):
    """All permutations preserving every pairwise distance (brute force, tiny layouts only)."""
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    return {p for p in itertools.permutations(range(len(pos))) if np.allclose(d[np.ix_(p, p)], d)}


def _as_set(perms):
    return {tuple(int(v) for v in p) for p in perms}


@pytest.mark.parametrize(
    "positions, expected",
    [
        (axion_323_positions(), 4),
        (grid_positions(4, 4, pitch=200.0), 8),
        (grid_positions(3, 3), 8),
        (grid_positions(8, 8, pitch=17.5), 8),
        (line_positions(6, pitch=25.0), 2),
        (grid_positions(2, 3), 4),
    ],
)
def test_known_layouts(positions, expected):
    perms = layout_symmetries(positions)
    assert len(perms) == expected
    np.testing.assert_array_equal(perms[0], np.arange(len(positions)))
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    for p in perms:
        np.testing.assert_allclose(d[np.ix_(p, p)], d, atol=1e-9)
    # closed under composition and inverse: a group
    keys = _as_set(perms)
    for p, q in itertools.product(perms, perms):
        assert tuple(p[q]) in keys
        assert tuple(np.argsort(p)) in keys


@pytest.mark.parametrize(
    "positions",
    [
        axion_323_positions(),
        grid_positions(2, 3),
        line_positions(5),
        np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]]),  # equilateral triangle: 6
        np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float),  # 3D: S3 on the axes
        np.random.default_rng(0).normal(size=(6, 2)),  # generic: identity only
    ],
)
def test_matches_brute_force(positions):
    assert _as_set(layout_symmetries(positions)) == _naive_symmetries(np.asarray(positions, float))


def test_323_flips_are_the_papers_mirror_flips():
    perms = _as_set(layout_symmetries(axion_323_positions()))
    # left-right flip of rows (0 1 2), (3 4), (5 6 7) and top-bottom flip
    assert (2, 1, 0, 4, 3, 7, 6, 5) in perms
    assert (5, 6, 7, 3, 4, 0, 1, 2) in perms


def test_large_grid_is_fast_and_correct():
    perms = layout_symmetries(grid_positions(30, 30))
    assert len(perms) == 8


def test_bad_positions():
    pos = axion_323_positions()
    pos[3, 0] = np.nan
    with pytest.raises(ValueError, match="no \\(finite\\) position"):
        layout_symmetries(pos)
    dup = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="same position"):
        check_positions(dup)
    with pytest.raises(ValueError):
        check_positions(np.zeros((0, 2)))


def test_single_electrode_and_rotation_invariance_of_result():
    assert layout_symmetries([[3.0, 4.0]]).shape == (1, 1)
    theta = 0.3
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pos = axion_323_positions(100.0) @ rot.T + 7.0
    assert _as_set(layout_symmetries(pos)) == _as_set(layout_symmetries(axion_323_positions()))

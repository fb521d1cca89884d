"Checks of motlib.track.matching: assignment optimality against SciPy and input immutability."
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from motlib.core import MotlibError, box_convert
from motlib.track.kalman import KalmanFilter
from motlib.track.matching import (linear_assignment, iou_distance, giou_distance, embedding_distance,
                                   gate_cost_matrix, fuse_motion)


@pytest.mark.parametrize("seed", range(3))
def test_linear_assignment_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    for _ in range(100):
        n, m = rng.integers(1, 15, 2)
        cost = rng.uniform(0, 1, (n, m))
        c0 = cost.copy()
        mt, ur, uc = linear_assignment(cost)
        r, c = linear_sum_assignment(cost)
        assert np.isclose(cost[mt[:, 0], mt[:, 1]].sum(), cost[r, c].sum())
        assert len(mt) == min(n, m) and len(ur) == n - len(mt) and len(uc) == m - len(mt)
        assert mt.dtype == np.int64 and (cost == c0).all()
        # a threshold never admits a pair above it, and every row/col is either matched or unmatched
        mt, ur, uc = linear_assignment(cost, 0.3)
        assert (cost[mt[:, 0], mt[:, 1]] <= 0.3).all()
        assert sorted(np.r_[mt[:, 0], ur].tolist()) == list(range(n))
        assert sorted(np.r_[mt[:, 1], uc].tolist()) == list(range(m))


def test_thresholded_assignment_is_optimal_extended_problem():
    "With rejection cost thresh/2 per side, lap's total equals SciPy on the explicitly extended matrix."
    rng = np.random.default_rng(5)
    for _ in range(100):
        n, m = rng.integers(1, 10, 2)
        cost = rng.uniform(0, 1, (n, m)); thresh = 0.5
        mt, ur, uc = linear_assignment(cost, thresh)
        ext = np.full((n + m, n + m), 1e9)
        ext[:n, :m] = np.where(cost <= thresh, cost, 1e9)
        ext[:n, m:][np.eye(n, dtype=bool)] = thresh / 2
        ext[n:, :m][np.eye(m, dtype=bool)] = thresh / 2
        ext[n:, m:] = 0
        r, c = linear_sum_assignment(ext)
        ours = cost[mt[:, 0], mt[:, 1]].sum() + thresh / 2 * (len(ur) + len(uc))
        assert np.isclose(ours, ext[r, c].sum())


def test_empty_and_nan():
    for shape in [(0, 0), (0, 5), (3, 0)]:
        mt, ur, uc = linear_assignment(np.zeros(shape), 0.5)
        assert mt.shape == (0, 2) and len(ur) == shape[0] and len(uc) == shape[1]
    with pytest.raises(MotlibError):
        linear_assignment(np.array([[np.nan]]), 0.5)


def test_costs_do_not_modify_inputs():
    rng = np.random.default_rng(0)
    a = np.array([[0, 0, 10, 10], [5, 5, 20, 30]], np.float32); b = a[::-1] + 1
    te, de = rng.normal(size=(2, 8)), rng.normal(size=(2, 8))
    kf = KalmanFilter()
    mean, cov = kf.predict(*kf.initiate(box_convert(a, 'xyxy', 'cxcyah')))
    cost = rng.uniform(size=(2, 2))
    copies = [x.copy() for x in (a, b, te, de, mean, cov, cost)]
    iou_distance(a, b); giou_distance(a, b); embedding_distance(te, de)
    gate_cost_matrix(cost, kf, mean, cov, b); fuse_motion(kf, cost, mean, cov, b)
    for x, y in zip((a, b, te, de, mean, cov, cost), copies):
        assert (x == y).all()
    assert np.allclose(np.diag(iou_distance(a, a)), 0)
    assert (embedding_distance(te, de) >= 0).all() and (embedding_distance(te, -te) <= 2).all()

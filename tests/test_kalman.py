"End-to-end checks of motlib.track.kalman against filterpy (a test-only dependency)."
import numpy as np
import pytest
from filterpy.kalman import KalmanFilter as FPKalman
from motlib.track.kalman import KalmanFilter, KalmanConfig, chi2inv95


def _q_r(cfg, h):
    h = max(abs(h), cfg.min_height)
    p, v = cfg.std_weight_position * h, cfg.std_weight_velocity * h
    Q = np.diag(np.square([p, p, cfg.std_aspect, p, v, v, cfg.std_aspect_velocity, v]))
    R = np.diag(np.square([p, p, cfg.std_aspect_measurement, p]))
    return Q, R


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_batched_filter_matches_filterpy(seed):
    "N independent random tracks filtered in one batch agree with N filterpy filters to 1e-5 relative."
    rng = np.random.default_rng(seed)
    kf, N, T = KalmanFilter(), 6, 30
    z0 = np.c_[rng.uniform(50, 900, (N, 2)), rng.uniform(0.3, 0.6, N), rng.uniform(20, 300, N)]
    vel = np.c_[rng.normal(0, 3, (N, 2)), np.zeros(N), rng.normal(0, 0.5, N)]
    mean, cov = kf.initiate(z0)
    fps = []
    for i in range(N):
        f = FPKalman(dim_x=8, dim_z=4); f.F, f.H = kf.F.copy(), kf.H.copy()
        f.x, f.P = mean[i].reshape(8, 1).copy(), cov[i].copy(); fps.append(f)
    for t in range(1, T):
        for f in fps:
            f.Q = _q_r(kf.cfg, f.x[3, 0])[0]; f.predict()
        mean, cov = kf.predict(mean, cov)
        for i, f in enumerate(fps):
            assert _rel(mean[i], f.x[:, 0]) < 1e-5 and _rel(cov[i], f.P) < 1e-5
        z = z0 + t * vel + rng.normal(0, 1, (N, 4)) * [2, 2, 0.01, 2]
        for i, f in enumerate(fps): f.update(z[i], R=_q_r(kf.cfg, f.x[3, 0])[1])
        mean, cov = kf.update(mean, cov, z)
        for i, f in enumerate(fps):
            assert _rel(mean[i], f.x[:, 0]) < 1e-5 and _rel(cov[i], f.P) < 1e-5


def test_gating_matches_explicit_mahalanobis():
    rng = np.random.default_rng(7)
    kf = KalmanFilter()
    z = np.c_[rng.uniform(0, 1000, (5, 2)), rng.uniform(0.3, 0.6, 5), rng.uniform(20, 300, 5)]
    mean, cov = kf.predict(*kf.initiate(z))
    dets = z[::-1] + rng.normal(0, 5, z.shape) * [1, 1, 0.01, 1]
    g = kf.gating_distance(mean, cov, dets)
    zp, S = kf.project(mean, cov)
    for i in range(5):
        for j in range(5):
            d = dets[j] - zp[i]
            assert np.isclose(g[i, j], d @ np.linalg.inv(S[i]) @ d, rtol=1e-8)
    gp = kf.gating_distance(mean, cov, dets, only_position=True)
    d = dets[0, :2] - zp[0, :2]
    assert np.isclose(gp[0, 0], d @ np.linalg.inv(S[0, :2, :2]) @ d)


def test_inputs_untouched_and_chi2():
    kf = KalmanFilter(KalmanConfig())
    mean, cov = kf.initiate([[10, 20, 0.5, 50], [30, 40, 0.4, 80]])
    m0, c0 = mean.copy(), cov.copy()
    z = np.array([[11, 21, 0.5, 51], [29, 41, 0.4, 79]]); z0 = z.copy()
    kf.predict(mean, cov); kf.update(mean, cov, z); kf.gating_distance(mean, cov, z); kf.project(mean, cov)
    assert (mean == m0).all() and (cov == c0).all() and (z == z0).all()
    assert abs(chi2inv95[4] - 9.4877) < 1e-4 and abs(chi2inv95[2] - 5.9915) < 1e-4

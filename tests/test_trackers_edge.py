"""Every tracker on awkward frame sequences (issue 7, defect 8) and every tracker config on bad values (defect 7).

An empty first frame (a video that opens on an empty street), empty frames in the middle, a single detection, and
detections without embeddings: each tracker either tracks (positive, stable identities) or, where embeddings are
required, raises motlib's one-line `MotlibError`; no other exception ever escapes.
"""
import numpy as np
import pytest

from motlib.core import ConfigError, Detections, MotlibError, Tracks, make_config
from motlib.track.baselines import IoUTracker, IoUTrackerConfig, OracleConfig, SORTConfig, SORTTracker
from motlib.track.jde import JDETracker, JDETrackerConfig
from motlib.track.kalman import KalmanConfig
from motlib.track.qd import QDTracker, QDTrackerConfig

D = 16
_EMB = np.linalg.qr(np.random.default_rng(0).normal(size=(D, D)))[0][:3]      # three orthonormal identities


def _frame(t, n=3, emb=True, frame=None):
    "n people walking right, 40x100 boxes, each with its own embedding."
    x = 100 + 150 * np.arange(n) + 4 * t
    boxes = np.c_[x, np.full(n, 200), x + 40, np.full(n, 300)].astype(np.float32)
    return Detections(boxes, np.full(n, 0.95), _EMB[:n] if emb else None, frame=frame)


TRACKERS = {
    'jde': lambda: JDETracker(),
    'jde-preset': lambda: JDETracker(make_config(JDETrackerConfig, 'jde')),
    'fairmot': lambda: JDETracker(make_config(JDETrackerConfig, 'fairmot')),
    'qd': lambda: QDTracker(make_config(QDTrackerConfig, 'unit')),
    'qd-default': lambda: QDTracker(),
    'sort': lambda: SORTTracker(SORTConfig(min_hits=0)),
    'iou': lambda: IoUTracker(),
}
NEEDS_EMB = {'jde', 'jde-preset', 'fairmot', 'qd', 'qd-default'}


def _run(tracker, frames):
    outs = [tracker.update(d) for d in frames]
    for o in outs:
        assert isinstance(o, Tracks) and (o.ids > 0).all() and len(np.unique(o.ids)) == len(o.ids)
    return outs


def _final_ids(outs):
    "Track ids of the last frame, ordered left to right."
    o = outs[-1]
    return o.ids[np.argsort(o.boxes[:, 0])].tolist()


@pytest.mark.parametrize('name', sorted(TRACKERS))
@pytest.mark.parametrize('first', ['empty', 'empty-with-width'])
def test_empty_first_frame(name, first):
    "A sequence that opens on an empty frame (QDTracker crashed here) tracks the people who walk in afterwards."
    start = Detections.empty() if first == 'empty' else Detections.empty(D)
    outs = _run(TRACKERS[name](), [start] + [_frame(t) for t in range(1, 8)])
    assert len(outs[0]) == 0 and len(outs[-1]) == 3
    assert len({tuple(_final_ids(outs[k:k + 1])) for k in range(4, 8)}) == 1        # stable identities


@pytest.mark.parametrize('name', sorted(TRACKERS))
def test_empty_frames_in_the_middle(name):
    frames = [_frame(t) for t in range(6)] + [Detections.empty(), Detections.empty(D)] + [_frame(t) for t in range(8, 14)]
    outs = _run(TRACKERS[name](), frames)
    assert len(outs[6]) == 0 and len(outs[-1]) == 3


@pytest.mark.parametrize('name', sorted(TRACKERS))
def test_one_detection(name):
    outs = _run(TRACKERS[name](), [_frame(t, n=1) for t in range(6)])
    assert len(outs[-1]) == 1 and len({int(o.ids[0]) for o in outs if len(o)}) == 1


@pytest.mark.parametrize('name', sorted(TRACKERS))
def test_detections_without_embeddings(name):
    "Motion trackers take them; appearance trackers give a one-line MotlibError naming the frame."
    tr = TRACKERS[name]()
    frames = [_frame(t, emb=False, frame=t + 1) for t in range(5)]
    if name in NEEDS_EMB:
        with pytest.raises(MotlibError, match='frame 1: .*needs appearance embeddings'):
            tr.update(frames[0])
        assert len(tr.update(Detections.empty())) == 0        # the failed frame did not break the tracker
    else:
        assert len(_run(tr, frames)[-1]) == 3


@pytest.mark.parametrize('name', sorted(TRACKERS))
def test_input_is_not_modified(name):
    d = _frame(2)
    before = (d.boxes.copy(), d.scores.copy(), d.embeddings.copy())
    tr = TRACKERS[name]()
    for _ in range(3): tr.update(d)
    assert all(np.array_equal(a, b) for a, b in zip(before, (d.boxes, d.scores, d.embeddings)))


def test_build_tracker_qd_empty_first_frame():
    "The command of issue 7 (defect 8), through the one tracker registry."
    pytest.importorskip('motlib.pipeline')
    from motlib.pipeline import build_tracker
    tr = build_tracker('qd')
    assert len(tr.update(Detections.empty())) == 0
    assert len(tr.update(_frame(1))) == 3


@pytest.mark.parametrize('cls,bad,field', [
    (JDETrackerConfig, 'det_thresh=5', 'det_thresh'), (JDETrackerConfig, 'track_buffer=-5', 'track_buffer'),
    (JDETrackerConfig, 'frame_rate=0', 'frame_rate'), (JDETrackerConfig, 'lambda_=1.5', 'lambda_'),
    (JDETrackerConfig, 'min_hits=1.5', 'min_hits'), (JDETrackerConfig, 'emb_metric=l1', 'emb_metric'),
    (JDETrackerConfig, 'min_box_area=-1', 'min_box_area'), (JDETrackerConfig, 'max_aspect=0', 'max_aspect'),
    (JDETrackerConfig, 'iou_match_thresh=nan', 'iou_match_thresh'), (JDETrackerConfig, 'only_position=maybe', 'only_position'),
    (QDTrackerConfig, 'init_score_thr=2', 'init_score_thr'), (QDTrackerConfig, 'memo_tracklet_frames=-1', 'memo_tracklet_frames'),
    (QDTrackerConfig, 'match_metric=l2', 'match_metric'), (QDTrackerConfig, 'nms_class_iou_thr=-0.1', 'nms_class_iou_thr'),
    (SORTConfig, 'det_thresh=5', 'det_thresh'), (SORTConfig, 'max_age=-1', 'max_age'), (SORTConfig, 'iou_threshold=2', 'iou_threshold'),
    (IoUTrackerConfig, 'iou_threshold=-1', 'iou_threshold'), (IoUTrackerConfig, 'min_score=abc', 'min_score'),
    (KalmanConfig, 'dt=0', 'dt'), (KalmanConfig, 'std_weight_position=-1', 'std_weight_position'),
    (OracleConfig, 'miss_rate=2', 'miss_rate'), (OracleConfig, 'fp_score=(0.9,0.1)', 'fp_score'),
    (OracleConfig, 'emb_dim=0', 'emb_dim'), (OracleConfig, 'seed=-1', 'seed')])
def test_tracker_config_ranges(cls, bad, field):
    "issue 7.7: det_thresh=5, track_buffer=-5 and friends are ConfigErrors naming Class.field."
    with pytest.raises(ConfigError, match=rf"{cls.__name__}\.{field}"):
        make_config(cls, overrides=[bad])


def test_output_filter_presets_follow_the_authors():
    "issue 8: JDE's script drops w/h > 1.6 and area <= 200, FairMOT's area <= 100; the class default reports everything."
    assert (JDETrackerConfig().min_box_area, JDETrackerConfig().max_aspect, JDETrackerConfig().emb_metric) == (0, None, 'cosine')
    jde, fm = make_config(JDETrackerConfig, 'jde'), make_config(JDETrackerConfig, 'fairmot')
    assert (jde.min_box_area, jde.max_aspect, jde.emb_metric, jde.emb_match_thresh) == (200, 1.6, 'euclidean', 0.7)
    assert (fm.min_box_area, fm.max_aspect, fm.emb_metric, fm.emb_match_thresh) == (100, 1.6, 'cosine', 0.4)
    wide = Detections([[0, 0, 170, 100], [300, 0, 312, 15], [500, 0, 540, 100]], [0.9] * 3, np.eye(3, D))
    for cfg, n in [(JDETrackerConfig(min_hits=1), 3), (make_config(JDETrackerConfig, 'jde', overrides=['min_hits=1']), 1),
                   (make_config(JDETrackerConfig, 'fairmot'), 2)]:
        tr = JDETracker(cfg)
        for _ in range(3): out = tr.update(wide)
        assert len(out) == n and len(tr.pool) == 3, (cfg, out)       # filtered from the output only

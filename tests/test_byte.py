"""BYTE (ByteTrack, Zhang et al. 2022, sec. 3): the motion-only `byte` tracker and the `byte` option of the JDE/FairMOT
tracker on hand-made occlusions, the option off leaving the authors' tracker unchanged, and offline interpolation."""
import numpy as np
import pytest
from motlib.core import ConfigError, Detections, MotlibError, Tracks, box_iou, make_config
from motlib.track.byte import ByteTracker, ByteTrackerConfig, interpolate_tracks
from motlib.track.jde import JDETracker, JDETrackerConfig


def _turning_walk(T=50, hide=range(15, 35), low_score=0.3, emb=False):
    "Person 1 walks right, then (partly hidden: score `low_score`) turns and walks down; person 2 stands still."
    rng, out, p = np.random.default_rng(0), [], np.array([100.0, 200.0])
    e = np.eye(2, 16)
    for t in range(T):
        a = np.pi / 2 * np.clip((t - hide[0]) / 10, 0, 1)
        p = p + 5 * np.array([np.cos(a), np.sin(a)])
        boxes = np.array([[*p, *(p + [40, 100])], [1200, 300, 1240, 400]]) + rng.normal(0, 1, (2, 4))
        out.append(Detections(boxes, [low_score if t in hide else 0.9, 0.9], e + 0.02 * rng.normal(size=(2, 16)) if emb else None,
                              frame=t + 1))
    return out


def _ids_of_person1(tracker, frames):
    res = []
    for d in frames:
        o = tracker.update(d)
        iou = box_iou(d.boxes[:1], o.boxes)[0] if len(o) else np.zeros(0)
        res.append(int(o.ids[iou.argmax()]) if len(iou) and iou.max() > 0.5 else 0)
    return np.array(res)


def test_byte_tracker_low_score_boxes_keep_the_identity_through_an_occlusion():
    fr = _turning_walk()
    on = _ids_of_person1(ByteTracker(), fr)
    off = _ids_of_person1(ByteTracker(make_config(ByteTrackerConfig, 'no_byte')), fr)
    assert set(on.tolist()) == {1}                         # reported in every frame, one identity
    assert off[15:35].max() == 0 and off[-1] not in (0, 1)  # without BYTE: lost, then a new identity


def test_low_score_boxes_never_start_tracks():
    tr = ByteTracker()
    for f in range(5):
        assert len(tr.update(Detections([[10, 10, 50, 110], [300, 10, 340, 110]], [0.3, 0.45], frame=f + 1))) == 0
    assert tr.next_id == 1 and len(tr.pool) == 0
    tr.update(Detections([[10, 10, 50, 110]], [0.55], frame=6))           # high (> 0.5) but below new_track_thresh 0.6
    assert tr.next_id == 1


def test_jde_byte_option_reports_the_partly_hidden_person():
    fr = _turning_walk(T=40, hide=range(15, 27), emb=True)
    hidden = slice(15, 27)
    on = _ids_of_person1(JDETracker(JDETrackerConfig(byte=True)), fr)
    off = _ids_of_person1(JDETracker(JDETrackerConfig()), fr)
    assert (on[hidden] == 1).all() and (off[hidden] == 0).all()
    assert on[-1] == 1


@pytest.mark.parametrize('preset', ['jde', 'fairmot'])
def test_jde_byte_off_is_the_authors_tracker(preset):
    "byte=False (the default) gives exactly the outputs of the tracker without the option, also with low-score boxes present."
    rng = np.random.default_rng(3)
    fr, xy = [], np.c_[rng.uniform(0, 1600, 12), rng.uniform(0, 800, 12)]
    for t in range(40):
        b = np.c_[xy, xy + [40, 100]] + t * 3 + rng.normal(0, 1, (12, 4))
        fr.append(Detections(b, rng.uniform(0.05, 1, 12), np.eye(12, 16), frame=t + 1))
    base = JDETracker(make_config(JDETrackerConfig, preset))
    off = JDETracker(make_config(JDETrackerConfig, preset, overrides=['byte=False']))
    on = JDETracker(make_config(JDETrackerConfig, preset, overrides=['byte=True']))
    differs = False
    for d in fr:
        a, b, c = base.update(d), off.update(d), on.update(d)
        assert a.ids.tolist() == b.ids.tolist() and np.allclose(a.boxes, b.boxes)
        differs |= a.ids.tolist() != c.ids.tolist() or not np.allclose(a.boxes, c.boxes)
    assert differs                                     # the scene does exercise the low-score boxes


def test_configs_are_checked():
    with pytest.raises(ConfigError, match='byte_low_thresh'):
        make_config(JDETrackerConfig, overrides=['byte=True', 'byte_low_thresh=0.9'])
    with pytest.raises(ConfigError, match='ByteTrackerConfig: low_thresh'):
        make_config(ByteTrackerConfig, overrides=['low_thresh=0.8'])
    with pytest.raises(MotlibError, match='frame 4'):
        ByteTracker().update(Detections(np.zeros((1, 4)), [np.inf], frame=4))


def test_registered_and_scored_on_public_detections(tmp_path):
    from motlib.data.synth import generate
    from motlib.data.mot import list_sequences, read_mot_txt
    from motlib.pipeline import TRACKERS, PublicDetector, build_tracker, track_and_score
    assert 'byte' in TRACKERS and isinstance(build_tracker('byte', 25), ByteTracker)
    generate(tmp_path/'d', 'tiny', ('val',), 0, ['frames=20', 'seqs_val=1'], reid=False)
    seqs = list_sequences(tmp_path/'d'/'val')
    r0 = track_and_score(PublicDetector(), seqs, tmp_path/'r0', 'byte')
    r5 = track_and_score(PublicDetector(), seqs, tmp_path/'r5', 'byte', interpolate=5)
    assert r0['metrics'].loc['OVERALL', 'MOTA'] > 0
    n0, n5 = (len(read_mot_txt(tmp_path/r/f"{seqs[0].name}.txt")) for r in ('r0', 'r5'))
    assert n5 >= n0
    with pytest.raises(ConfigError, match='interpolate'):
        track_and_score(PublicDetector(), seqs, tmp_path/'r6', 'byte', interpolate=-1)
    assert not (tmp_path/'r6').exists()


def test_interpolate_tracks():
    a = [(1, Tracks([1, 2], [[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8])), (2, Tracks([2], [[52, 50, 62, 60]], [0.8])),
         (5, Tracks([1, 2], [[40, 0, 50, 10], [58, 50, 68, 60]], [0.5, 1.0]))]
    b = dict(interpolate_tracks(a, 3))
    assert sorted(b) == [1, 2, 3, 4, 5]
    t3 = b[3]
    np.testing.assert_allclose(t3.boxes[t3.ids == 1][0], [20, 0, 30, 10], atol=1e-4)
    np.testing.assert_allclose(t3.boxes[t3.ids == 2][0], [54, 50, 64, 60], atol=1e-4)
    np.testing.assert_allclose(t3.scores[t3.ids == 1], [0.7], atol=1e-4)
    assert dict(interpolate_tracks(a, 2))[3].ids.tolist() == [2]
    assert interpolate_tracks(a, 0) == a and len(a) == 3 and len(a[1][1]) == 1
    with pytest.raises(MotlibError, match='max_gap'):
        interpolate_tracks(a, 1.5)


def test_aspect_noise_reaches_the_kalman_filter():
    from motlib.track.kalman import KalmanConfig
    assert ByteTracker().kf.cfg.std_aspect_measurement == 0.1                       # DeepSORT's / ByteTrack's default
    assert ByteTracker(make_config(ByteTrackerConfig, 'synthmot')).kf.cfg.std_aspect_measurement == 0.003
    assert ByteTracker(ByteTrackerConfig(), KalmanConfig(std_aspect_measurement=0.5)).kf.cfg.std_aspect_measurement == 0.5
    with pytest.raises(ConfigError, match='ByteTrackerConfig.aspect_noise'):
        make_config(ByteTrackerConfig, overrides=['aspect_noise=0'])


def test_jde_aspect_noise_default_is_the_authors():
    from motlib.track.kalman import KalmanConfig
    assert JDETracker().kf.cfg == KalmanConfig()                                     # unchanged default filter
    assert JDETracker(make_config(JDETrackerConfig, overrides=['aspect_noise=0.003'])).kf.cfg.std_aspect_measurement == 0.003
    with pytest.raises(ConfigError, match='JDETrackerConfig.aspect_noise'):
        make_config(JDETrackerConfig, overrides=['aspect_noise=-1'])

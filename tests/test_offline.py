"Offline post-processing of tracks (issue 8): short tracks dropped, then gaps filled; the JDE tracker's offline options."
import numpy as np
import pytest
from motlib.core import ConfigError, Detections, Tracks
from motlib.track.byte import drop_short_tracks, interpolate_tracks
from motlib.track.jde import JDETracker, JDETrackerConfig


def test_drop_then_interpolate_keeps_long_tracks_only():
    a = [(1, Tracks([1, 2], [[0, 0, 10, 10], [50, 50, 60, 60]], [0.9, 0.8])),
         (3, Tracks([1], [[4, 0, 14, 10]], [0.9])),
         (4, Tracks([1, 3], [[6, 0, 16, 10], [80, 0, 90, 10]], [0.9, 0.6]))]
    out = dict(interpolate_tracks(drop_short_tracks(a, 2), 2))
    assert sorted(out) == [1, 2, 3, 4]
    assert [out[f].ids.tolist() for f in (1, 2, 3, 4)] == [[1], [1], [1], [1]]
    np.testing.assert_allclose(out[2].boxes[0], [2, 0, 12, 10])


def test_offline_preset_writes_births_that_short_track_filter_removes():
    walk = [Detections(np.array([[10. + 6 * f, 10., 30. + 6 * f, 60.]]), np.array([0.9]), np.ones((1, 4), np.float32), frame=f)
            for f in range(1, 7)]
    ghost = Detections(np.r_[walk[2].boxes, [[200., 10., 220., 60.]]], np.array([0.9, 0.9]),
                       np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32), frame=3)
    frames = [walk[0], walk[1], ghost, walk[3], walk[4], walk[5]]
    online = JDETracker(JDETrackerConfig(**JDETrackerConfig.presets()['fairmot_plus']))
    offline = JDETracker(JDETrackerConfig(**JDETrackerConfig.presets()['fairmot_offline']))
    r_on = [(d.frame, online.update(d)) for d in frames]
    r_off = [(d.frame, offline.update(d)) for d in frames]
    n = lambda res: sum(len(t) for _, t in res)
    assert n(r_on) == 6 and n(r_off) == n(r_on) + 1                        # the one-frame ghost is written (unconfirmed) only offline
    assert n(drop_short_tracks(r_off, 2)) == n(r_on)      # and the short-track filter removes it again


def test_track_and_score_min_track_len(tmp_path):
    from motlib.data.synth import generate
    from motlib.data.mot import list_sequences, read_mot_txt
    from motlib.pipeline import PublicDetector, track_and_score
    generate(tmp_path/'d', 'tiny', ('val',), 0, ['frames=20', 'seqs_val=1'], reid=False)
    seqs = list_sequences(tmp_path/'d'/'val')
    r0 = track_and_score(PublicDetector(), seqs, tmp_path/'r0', 'sort')
    r9 = track_and_score(PublicDetector(), seqs, tmp_path/'r9', 'sort', min_track_len=9)
    a, b = (read_mot_txt(tmp_path/r/f"{seqs[0].name}.txt") for r in ('r0', 'r9'))
    assert 0 < len(b) < len(a)                      # some short tracks go, the long ones stay
    ids, counts = np.unique(b[:, 1], return_counts=True)
    assert counts.min() >= 9
    assert r9['metrics'].loc['OVERALL', 'Rcll'] < r0['metrics'].loc['OVERALL', 'Rcll']
    with pytest.raises(ConfigError, match='min_track_len'):
        track_and_score(PublicDetector(), seqs, tmp_path/'r6', 'sort', min_track_len=-1)
    assert not (tmp_path/'r6').exists()


def test_cli_min_track_len(tmp_path, capsys):
    from motlib.cli import track_main
    from motlib.data.synth import generate
    from motlib.data.mot import read_mot_txt
    generate(tmp_path/'s', 'tiny', ('val',), 0, ['frames=15', 'seqs_val=1'], reid=False)
    val = tmp_path/'s'/'val'
    assert track_main(['public', str(val), '--out', str(tmp_path/'o1'), '--no-video', '--min-track-len', '15']) == 0
    name = next(val.iterdir()).name
    rows = read_mot_txt(tmp_path/'o1'/f"{name}.txt")
    _, counts = np.unique(rows[:, 1], return_counts=True)
    assert len(rows) == 0 or counts.min() >= 15
    with pytest.raises(SystemExit):
        track_main(['public', str(val), '--out', str(tmp_path/'o2'), '--no-video', '--min-track-len', '-1'])
    assert '--min-track-len must be >= 0' in capsys.readouterr().err and not (tmp_path/'o2').exists()


def test_interpolated_boxes_keep_their_tracks_class():
    "Multi-class results (QDTrack on cyclists): a filled box carries its track's label, so per-class scores stay right."
    from motlib.core import Tracks
    from motlib.track.byte import interpolate_tracks
    box = np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32)
    res = [(1, Tracks([1, 2], box, [0.9, 0.8], [0, 1])), (2, Tracks.empty()),
           (3, Tracks([1, 2], box + 4, [0.9, 0.8], [0, 1]))]
    out = dict(interpolate_tracks(res, 2))
    assert out[2].ids.tolist() == [1, 2] and out[2].labels.tolist() == [0, 1]
    assert np.allclose(out[2].boxes, box + 2)
    unlabelled = dict(interpolate_tracks([(f, Tracks(t.ids, t.boxes, t.scores)) for f, t in res], 2))
    assert unlabelled[2].labels is None and len(unlabelled[2]) == 2

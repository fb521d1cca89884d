"End-to-end checks of motlib.viz.player: a toy MOTChallenge sequence rendered to a video and read back."
import numpy as np, cv2, pytest
from motlib.core import Tracks, MotlibError
from motlib.data.mot import SeqInfo, Sequence, write_seqinfo, write_mot_txt
from motlib.viz.player import TrackPlayer, TrackVideoWriter, id_color, read_video, render_results


def _toy(root, n=5):
    d = root/'toy-01'; (d/'img1').mkdir(parents=True); (d/'gt').mkdir()
    write_seqinfo(d/'seqinfo.ini', SeqInfo('toy-01', 10, n, 64, 48))
    rows = []
    for t in range(1, n + 1):
        cv2.imwrite(str(d/'img1'/f"{t:06d}.jpg"), np.full((48, 64, 3), 80, np.uint8))
        rows += [[t, 1, 4 + 3 * t, 5, 10, 20, 1, 1, 1], [t, 2, 40, 20, 10, 20, 1, 1, 1]]
    write_mot_txt(d/'gt'/'gt.txt', rows)
    return Sequence(d)


def test_render_results_roundtrip(tmp_path):
    seq = _toy(tmp_path)
    res = write_mot_txt(tmp_path/'res.txt', seq.gt, style='result')
    out = render_results(seq, res, tmp_path/'out'/'toy.mp4', gt=True)
    frames = read_video(out)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    # box 2's left edge (x=40): a 1-px line is smeared by the lossy codec, but its colour is closest to id 2's
    px = frames[2][30, 40].astype(float)
    dist = {k: np.linalg.norm(px - c) for k, c in {'id2': id_color(2), 'id1': id_color(1), 'white': (255,) * 3, 'bg': (80,) * 3}.items()}
    assert min(dist, key=dist.get) == 'id2', dist


def _frames(w, n, tid=1):
    for k in range(n): w.write(np.zeros((48, 64, 3), np.uint8), Tracks([tid], [[k, 0, k + 10, 10]]))


def test_track_video_writer_discards_a_failed_video(tmp_path):
    "Issue 7, defect 5: the old writer committed the partial video over a good one when tracking failed."
    with pytest.raises(RuntimeError):
        with TrackVideoWriter(tmp_path/'x.mp4', fps=5) as w:
            _frames(w, 3)
            raise RuntimeError('tracking failed')
    assert list(tmp_path.iterdir()) == []                     # no partial video, no temporary file
    with TrackVideoWriter(tmp_path/'x.mp4', fps=5) as w: _frames(w, 4)
    good = (tmp_path/'x.mp4').read_bytes()
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc):
            with TrackVideoWriter(tmp_path/'x.mp4', fps=5) as w:
                _frames(w, 2, tid=2)
                raise exc('stopped')
        assert (tmp_path/'x.mp4').read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ['x.mp4']
    assert len(read_video(tmp_path/'x.mp4')) == 4


def test_player_headless(tmp_path):
    seq = _toy(tmp_path)
    pl = TrackPlayer(seq)
    pl.slider.value = 4
    assert pl.image.value[:2] == b'\xff\xd8' and 'frame 4/5' in pl.label.value
    with pytest.raises(MotlibError): pl.render(0)


def test_render_results_frame_sources(tmp_path):
    "Frames come from motlib.data.datasets.iter_frames: image folders and videos work, max_frames cuts, bad sources fail clearly."
    seq = _toy(tmp_path)
    out = render_results(seq.img_dir, seq.gt, tmp_path/'folder.mp4', max_frames=3)      # plain image folder, default fps
    assert len(read_video(out)) == 3
    cap = cv2.VideoCapture(str(out)); assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30); cap.release()
    vid = render_results(out, seq.gt, tmp_path/'again.mp4')                              # a video as the source: its own fps
    assert len(read_video(vid)) == 3
    with pytest.raises(MotlibError, match="no such video file or folder"):
        render_results(tmp_path/'missing.mp4', seq.gt, tmp_path/'x.mp4')
    assert not (tmp_path/'x.mp4').exists()

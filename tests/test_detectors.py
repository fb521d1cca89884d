"Real footage (issue 13 section 5): `motlib-track VIDEO --detector hog` offline; torchvision's detector only on request."
import cv2
import numpy as np
import pytest


def _video(tmp_path, n=4, fps=12.0):
    from motlib.data.synth import generate
    from motlib.data.mot import list_sequences
    from motlib.viz.player import write_video
    generate(tmp_path/'s', 'tiny', ('val',), 0, [f'frames={n}', 'seqs_val=1'], reid=False)
    seq = list_sequences(tmp_path/'s'/'val')[0]
    return write_video(tmp_path/'walk.mp4', [seq.image(t) for t in range(1, n + 1)], fps=fps)


def test_opencv_has_hog():
    assert hasattr(cv2, 'HOGDescriptor'), f"OpenCV {cv2.__version__}: HOG is missing (pin opencv-python-headless<5)"


def test_track_video_with_hog_keeps_frame_count_and_rate(tmp_path, capsys):
    from motlib.cli import track_main
    from motlib.data.mot import read_mot_txt
    from motlib.viz.player import read_video
    v = _video(tmp_path)
    assert track_main([str(v), '--detector', 'hog', '--out', str(tmp_path/'out')]) == 0
    out = tmp_path/'out'/'walk.mp4'
    assert len(read_video(out)) == 4
    assert round(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FPS)) == 12
    rows = read_mot_txt(tmp_path/'out'/'walk.txt')
    assert len(rows) > 0 and set(np.unique(rows[:, 0])) <= {1, 2, 3, 4}   # HOG finds the walkers; frames 1-4
    assert 'hog detector' in capsys.readouterr().out


def test_detector_cli_errors_before_any_work(tmp_path, capsys):
    from motlib.cli import track_main
    v = _video(tmp_path, n=2)
    with pytest.raises(SystemExit):
        track_main(['run', str(v), '--detector', 'hog'])                 # RUN and --detector: only INPUT
    with pytest.raises(SystemExit):
        track_main([str(v), '--detector', 'yolo'])
    assert track_main([str(v), '--detector', 'hog', '--download', '--out', str(tmp_path/'o')]) == 2
    assert 'downloads nothing' in capsys.readouterr().err and not (tmp_path/'o').exists()


def test_fasterrcnn_never_downloads_unasked(tmp_path, monkeypatch, capsys):
    from motlib.cli import track_main
    v = _video(tmp_path, n=2)
    monkeypatch.setattr('torch.hub.get_dir', lambda: str(tmp_path/'hub'))
    assert track_main([str(v), '--detector', 'fasterrcnn', '--out', str(tmp_path/'o')]) == 2
    err = capsys.readouterr().err
    assert 'pass --download' in err and err.count('\n') == 1 and not (tmp_path/'o').exists()

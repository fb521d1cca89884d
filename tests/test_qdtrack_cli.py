"""`motlib-track` on a multi-class run (issue 10, section 2): the result files keep each track's class in the 8th column
(MOT16 gt layout, label + 1), also for boxes filled in by `--interpolate`, so that `motlib-eval --classes` scores them."""
import contextlib, io
import numpy as np
import pytest

from motlib.core import Tracks

TINY2 = dict(backbone='mobilenetv2', pretrained=False, fpn_channels=16, anchor_sizes=(8, 16, 32, 64), box_head_dim=32,
             rpn_post_nms_train=50, box_batch_size=32, emb_conv_channels=16, emb_fc=32, emb_dim=16, rois_per_image=32,
             num_classes=2)
TINY2_SET = [f'{k}={v}' for k, v in TINY2.items()] + ['input_size=(96,64)']


def _rows(path):
    return np.array([[float(v) for v in line.split(',')] for line in path.read_text().splitlines()]).reshape(-1, 9)


def test_write_tracks_keeps_classes_through_interpolation(tmp_path):
    "Track 1 (label 1 -> class 2) has a one-frame gap that interpolation fills; the filled row keeps class 2."
    from motlib.cli import _write_tracks
    box = lambda x: np.array([[x, 10., x + 10, 40]])
    res = [(1, Tracks([1, 2], np.r_[box(0), box(50)], [0.9, 0.8], [1, 0])),
           (2, Tracks([2], box(50), [0.8], [0])),
           (3, Tracks([1, 2], np.r_[box(4), box(50)], [0.9, 0.8], [1, 0]))]
    r = _rows(_write_tracks(tmp_path/'a.txt', res, interpolate=1, classes=True))
    got = {(int(f), int(i)): int(c) for f, i, c in r[:, [0, 1, 7]]}
    assert got == {(1, 1): 2, (1, 2): 1, (2, 2): 1, (2, 1): 2, (3, 1): 2, (3, 2): 1}
    assert np.isclose(r[(r[:, 0] == 2) & (r[:, 1] == 1), 2], 2.0).all()          # x halfway between 0 and 4
    plain = (tmp_path/'b.txt').read_text() if _write_tracks(tmp_path/'b.txt', res, 0, False) else ''
    assert all(line.split(',')[7] == '-1' for line in plain.splitlines())          # single class: MOTChallenge result rows


def test_write_tracks_without_labels_writes_plain_results(tmp_path):
    "A tracker that does not report labels: no class to write, the usual result rows (no error after tracking)."
    from motlib.cli import _write_tracks
    res = [(1, Tracks([1], np.array([[0., 0, 10, 20]]), [0.9]))]
    line = _write_tracks(tmp_path/'c.txt', res, 0, True).read_text().strip()
    assert line.split(',')[7] == '-1'


@pytest.fixture(scope='module')
def mc_run(tmp_path_factory):
    "A two-class QDTrack run (one training step on SynthMOT with cyclists) and its data."
    from motlib.data.synth import generate
    from motlib.pipeline import train_method
    root = tmp_path_factory.mktemp('synth_mc_cli')
    generate(root, 'tiny_cyclists', ('train', 'val'), 0, ['frames=6', 'seqs_train=1', 'seqs_val=1'], reid=False)
    run = root/'run'
    train_method('qdtrack', 'quick', root, run, TINY2_SET + ['max_steps=1', 'batch_size=2', 'progress=false',
                                                             'device=cpu', 'save_every=0'])
    return root, run


def test_motlib_track_writes_classes_of_a_two_class_run(mc_run, tmp_path):
    "motlib-track on a 2-class QDTrack run: every result row carries class 1 or 2 (not -1); motlib-eval --classes reads them."
    from motlib.cli import track_main
    from motlib.eval import eval_main
    root, run = mc_run
    out = tmp_path/'res'
    with contextlib.redirect_stdout(io.StringIO()) as so:
        rc = track_main([str(run), str(root/'val'), '--out', str(out), '--no-video', '--device', 'cpu',
                         '--set', 'init_score_thr=0.0', 'obj_score_thr=0.0'])
    assert rc == 0, so.getvalue()
    files = sorted(out.glob('*.txt'))
    assert len(files) == 1
    r = _rows(files[0])
    assert len(r) > 0 and set(np.unique(r[:, 7]).astype(int)) <= {1, 2}
    assert '--classes' in so.getvalue()
    with contextlib.redirect_stdout(io.StringIO()) as so:
        assert eval_main([str(root/'val'), str(out), '--classes', '1', '2']) == 0
    assert 'mean' in so.getvalue()

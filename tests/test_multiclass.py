"""Multi-class (issue 10, section 2): SynthMOT's optional cyclists (class 2), QDTrack trained on two classes, per-class
results and their mean (mMOTA, mIDF1) in motlib-eval."""
import contextlib, io
import numpy as np
import pytest
import torch

from motlib.core import ConfigError, MotlibError, Tracks, make_config
from motlib.data.mot import SeqInfo, list_sequences, write_mot_txt, write_seqinfo


@pytest.fixture(scope='module')
def mc(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth_mc')
    generate(root, 'tiny_cyclists', ('train',), 0, ['frames=12', 'seqs_train=1'], reid=False)
    return root


def test_no_cyclists_keeps_the_tiny_hash():
    "The tiny preset's config hash (and so data/synth on disk) is the one of before the cyclists existed."
    from motlib.data.synth import SynthConfig, config_hash
    assert config_hash(make_config(SynthConfig, 'tiny'), split='train', index=1, seed=0) == 'ac0c2bca1ab47fa5'
    assert config_hash(make_config(SynthConfig, 'tiny', overrides=['cyclists=1']), split='train', index=1,
                       seed=0) != 'ac0c2bca1ab47fa5'
    with pytest.raises(ConfigError, match='cyclists'): make_config(SynthConfig, 'tiny', overrides=['cyclists=-1'])


def test_cyclists_are_class_2_wider_and_faster(mc):
    seq = list_sequences(mc/'train')[0]
    g = seq.gt
    cyc, ped = g[g[:, 7] == 2], g[g[:, 7] == 1]
    assert len(cyc) and len(ped)
    assert np.median(cyc[:, 4] / cyc[:, 5]) > 2 * np.median(ped[:, 4] / ped[:, 5])
    assert not set(cyc[:, 1]) & set(ped[:, 1])
    assert len(seq.det) and seq.gt_frame(1).cls.tolist().count(2) == 0      # single-class view: pedestrians only


def test_qdtrack_two_class_batch(mc):
    "Two classes: labels 0 (pedestrian) and 1 (cyclist) in the pairs, a finite loss, detections with both labels possible."
    from motlib.data.datasets import collate_pairs
    from motlib.models.qdtrack import QDTrackConfig, build_qdtrack, qdtrack_dataset
    from test_qdtrack import TINY
    torch.manual_seed(0)
    cfg = QDTrackConfig(**{**TINY, 'num_classes': 2})
    ds = qdtrack_dataset(str(mc/'train'), cfg, augment=False)
    labels = torch.cat([ds[i]['key']['labels'] for i in range(len(ds))])
    assert set(labels.tolist()) == {0, 1}
    one = qdtrack_dataset(str(mc/'train'), QDTrackConfig(**TINY), augment=False)     # one class: no cyclist box
    assert all(len(one[i]['key']['ids']) <= len(ds[i]['key']['ids']) for i in range(3))
    m = build_qdtrack(cfg)
    L = m.loss(collate_pairs([ds[0], ds[5]]))
    assert torch.isfinite(L['loss'])
    d = m.detect(ds[0]['key']['image'][None])[0]
    assert set(np.unique(d.labels)) <= {0, 1}


def test_per_class_metrics_by_hand(tmp_path):
    "Class 1 perfect; class 2 with one switch in 4 boxes: MOTA .75, IDF1 .5; mMOTA .875, mIDF1 .75; CLI prints the table."
    from motlib.eval import evaluate, evaluate_classes, eval_main, class_rows, write_class_rows
    A, B, C = [10, 10, 20, 40], [100, 10, 20, 40], [200, 10, 40, 40]
    gt = np.array([[t, i, *b, 1, c, 1] for t in (1, 2, 3, 4) for i, b, c in ((1, A, 1), (2, B, 1), (3, C, 2))], float)
    (tmp_path/'g'/'s-01'/'gt').mkdir(parents=True)
    write_mot_txt(tmp_path/'g'/'s-01'/'gt'/'gt.txt', gt)
    write_seqinfo(tmp_path/'g'/'s-01'/'seqinfo.ini', SeqInfo('s-01', 10, 4, 320, 240))
    res = gt.copy()
    res[res[:, 1] == 3, 1] = [7, 7, 8, 8]
    res[:, 8] = -1
    (tmp_path/'r').mkdir()
    write_class_rows(tmp_path/'r'/'s-01.txt', res)
    df = evaluate_classes(tmp_path/'g', tmp_path/'r', (1, 2))
    assert list(df.index) == ['pedestrian', 'cyclist', 'mean']
    assert np.allclose(df['MOTA'].tolist(), [1.0, 0.75, 0.875]) and np.allclose(df['IDF1'].tolist(), [1.0, 0.5, 0.75])
    assert evaluate(tmp_path/'g', tmp_path/'r').loc['OVERALL', 'MOTA'] == 1.0     # one-class view: class 2 = distractor
    out = io.StringIO()
    with contextlib.redirect_stdout(out): assert eval_main([str(tmp_path/'g'), str(tmp_path/'r'), '--classes', '1', '2',
                                                            '--out', str(tmp_path/'o')]) == 0
    assert '| mean |' in out.getvalue() and (tmp_path/'o'/'metrics_classes.csv').is_file()
    err = io.StringIO()
    with contextlib.redirect_stderr(err): assert eval_main([str(tmp_path/'g'), str(tmp_path/'r'), '--classes', '0']) == 2
    assert 'classes' in err.getvalue() and '\n' == err.getvalue()[-1] and err.getvalue().count('\n') == 1
    with pytest.raises(MotlibError, match='labels'): class_rows(1, Tracks(np.array([1]), np.zeros((1, 4))))

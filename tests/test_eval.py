"End-to-end checks of motlib.eval: motmetrics' TUD reference, TrackEval agreement, data roots, the CLI."
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from motlib.eval import (EvalConfig, evaluate, evaluate_sequence, eval_main, format_table, save_tables,
                         MAIN_COLUMNS, MOT20_DISTRACTORS)
import motmetrics as mm
from motlib.core import MotlibError
from motlib.data.mot import MOTFormatError, SeqInfo, Sequence, read_mot_txt, write_mot_txt, write_seqinfo

TUD = Path(mm.__file__).parent / 'data'
NAMES = ['TUD-Campus', 'TUD-Stadtmitte']
# motmetrics/tests/test_metrics.py::test_motchallenge_files (py-motmetrics 1.4.0); MOTP there is a distance (1 - IoU)
REF = pd.DataFrame(
    [[0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8, 1, 6, 1, 13, 150, 7, 7, 0.526462, 0.277201],
     [0.644619, 0.819760, 0.531142, 0.608997, 0.939920, 10, 5, 4, 1, 45, 452, 7, 6, 0.564014, 0.345904],
     [0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 18, 6, 10, 2, 58, 602, 14, 13, 0.555116, 0.330177]],
    index=NAMES + ['OVERALL'],
    columns=['IDF1', 'IDP', 'IDR', 'Rcll', 'Prcn', 'GT', 'MT', 'PT', 'ML', 'FP', 'FN', 'IDs', 'Frag', 'MOTA', 'MOTP'])


@pytest.fixture(scope='module')
def tud():
    return evaluate(TUD, TUD, names=NAMES, cfg=EvalConfig(res_fmt='{name}/test.txt'))


def test_tud_reproduces_motmetrics_reference(tud):
    ref = REF.copy(); ref['MOTP'] = 1 - ref['MOTP']
    np.testing.assert_allclose(tud.loc[ref.index, ref.columns].to_numpy(float), ref.to_numpy(float), atol=1e-6)
    assert list(tud.index) == NAMES + ['OVERALL']


def test_tud_trackeval_agrees_with_motmetrics(tud):
    np.testing.assert_allclose(tud['MOTA'], tud['TE_MOTA'], atol=1e-3)
    np.testing.assert_allclose(tud['IDF1'], tud['TE_IDF1'], atol=1e-6)
    np.testing.assert_allclose(tud['IDs'], tud['TE_IDs'], atol=1)
    np.testing.assert_allclose(tud['MOTP'], tud['TE_MOTP'], atol=1e-6)
    assert (tud['HOTA'] > 0.3).all() and (tud['HOTA'] < 0.5).all()
    hota = np.sqrt(tud['DetA'] * tud['AssA'])          # HOTA is the mean over alpha of sqrt(DetA_a AssA_a), close to this
    np.testing.assert_allclose(tud['HOTA'], hota, atol=0.02)


def test_tud_matches_motmetrics_own_pipeline():
    "Our accumulation equals motmetrics' compare_to_groundtruth on its own loader's data frames."
    for n in NAMES:
        acc = mm.utils.compare_to_groundtruth(mm.io.loadtxt(TUD / n / 'gt.txt'), mm.io.loadtxt(TUD / n / 'test.txt'), 'iou', distth=0.5)
        theirs = mm.metrics.create().compute(acc, metrics=['mota', 'idf1', 'num_switches', 'motp'], return_dataframe=False)
        ours = evaluate_sequence(read_mot_txt(TUD / n / 'gt.txt'), read_mot_txt(TUD / n / 'test.txt'), n)
        assert ours['MOTA'] == pytest.approx(theirs['mota'], abs=1e-12)
        assert ours['IDF1'] == pytest.approx(theirs['idf1'], abs=1e-12)
        assert ours['IDs'] == theirs['num_switches']
        assert ours['MOTP'] == pytest.approx(1 - theirs['motp'], abs=1e-12)


@pytest.mark.parametrize('name', NAMES)
def test_ground_truth_against_itself_is_perfect(name):
    gt = read_mot_txt(TUD / name / 'gt.txt')
    m = evaluate_sequence(gt, gt, name)
    for k in ('MOTA', 'IDF1', 'HOTA', 'DetA', 'AssA', 'LocA', 'MOTP', 'TE_MOTA', 'TE_IDF1'):
        assert m[k] == pytest.approx(1.0), k
    assert (m['FP'], m['FN'], m['IDs']) == (0, 0, 0)


@pytest.mark.parametrize('seed', range(3))
def test_noisy_tracker_libraries_agree(seed):
    "Jittered, dropped, id-swapped and spurious boxes: motmetrics and TrackEval stay within a small tolerance."
    rng = np.random.default_rng(seed)
    gt = read_mot_txt(TUD / 'TUD-Stadtmitte' / 'gt.txt')
    res = gt[rng.uniform(size=len(gt)) > 0.15].copy()
    res[:, 2:4] += rng.normal(0, 6, (len(res), 2))
    swap = rng.uniform(size=len(res)) < 0.05
    res[swap, 1] += 1000                                       # occasional identity switches
    fp = res[rng.choice(len(res), 40, replace=False)].copy(); fp[:, 1] = 5000 + np.arange(40); fp[:, 2] += 300
    res = np.concatenate([res, fp])
    m = evaluate_sequence(gt, res, 'noisy')
    assert m['MOTA'] == pytest.approx(m['TE_MOTA'], abs=0.01)
    assert m['IDF1'] == pytest.approx(m['TE_IDF1'], abs=1e-9)     # same global assignment problem
    assert abs(m['IDs'] - m['TE_IDs']) <= max(2, 0.05 * m['IDs'])
    assert 0 < m['HOTA'] < 1 and m['IDs'] > 0


def _mot17_seq(root: Path, name='MOT17-XX', n=5):
    "A MOT17-style folder: seqinfo.ini, gt/gt.txt with a pedestrian, a zero-marked pedestrian and a static person."
    d = root / name; (d / 'gt').mkdir(parents=True)
    write_seqinfo(d / 'seqinfo.ini', SeqInfo(name, 30, n, 640, 480))
    rows = [[t, 1, 10 + t, 10, 20, 50, 1, 1, 1] for t in range(1, n + 1)]
    rows += [[t, 2, 200, 10, 20, 50, 0, 1, 0.5] for t in range(1, n + 1)]     # ignored pedestrian (conf 0)
    rows += [[t, 3, 400, 10, 20, 50, 1, 7, 1] for t in range(1, n + 1)]      # static person: a distractor
    write_mot_txt(d / 'gt' / 'gt.txt', rows)
    return d


def test_mot17_layout_distractors_and_errors(tmp_path):
    d = _mot17_seq(tmp_path / 'gt')
    res = [[t, 7, 10 + t, 10, 20, 50, 1, 1, 1] for t in range(1, 6)]
    res += [[t, 8, 401, 10, 20, 50, 1, 1, 1] for t in range(1, 6)]           # on the static person
    res += [[t, 9, 201, 10, 20, 50, 1, 1, 1] for t in range(1, 3)]           # on the zero-marked pedestrian
    write_mot_txt(tmp_path / 'res' / 'MOT17-XX.txt', res, style='result')
    df = evaluate(tmp_path / 'gt', tmp_path / 'res')
    r = df.loc['MOT17-XX']
    assert (r['FP'], r['FN'], r['GT']) == (2, 0, 1)              # distractor boxes removed, zero-marked ones count
    assert r['MOTA'] == pytest.approx(1 - 2 / 5) and r['TE_MOTA'] == pytest.approx(1 - 2 / 5)
    assert evaluate(tmp_path / 'gt', tmp_path / 'res', cfg=EvalConfig(distractor_classes=())).loc['MOT17-XX', 'FP'] == 7
    assert df.loc['OVERALL', 'MOTA'] == pytest.approx(r['MOTA'])
    # the same through Sequence objects (notebook 01), and through the MOT20 rule
    seqs = [Sequence(d, require_images=False)]
    assert evaluate(seqs, tmp_path / 'res', cfg=EvalConfig(distractor_classes=MOT20_DISTRACTORS)).loc['MOT17-XX', 'FP'] == 2
    # frames beyond seqLength are an error, as in the official kit
    write_mot_txt(tmp_path / 'res2' / 'MOT17-XX.txt', res + [[6, 7, 10, 10, 20, 50, 1, 1, 1]], style='result')
    with pytest.raises(MOTFormatError, match=r'MOT17-XX.txt:13: frame 6 is outside 1..5'):
        evaluate(tmp_path / 'gt', tmp_path / 'res2')
    with pytest.raises(MotlibError, match="unknown sequence"):
        evaluate(tmp_path / 'gt', tmp_path / 'res', names=['MOT17-YY'])


def test_cli_writes_tables(tmp_path, capsys):
    res = tmp_path / 'res'; res.mkdir()
    for n in NAMES: shutil.copy(TUD / n / 'test.txt', res / f'{n}.txt')
    assert eval_main([str(TUD), str(res), '--out', str(tmp_path / 'out')]) == 0
    out = capsys.readouterr().out
    assert '| TUD-Campus |' in out and '| OVERALL |' in out and '52.6' in out
    df = pd.read_csv(tmp_path / 'out' / 'metrics.csv', index_col=0)
    assert df.loc['TUD-Stadtmitte', 'IDF1'] == pytest.approx(0.644619, abs=1e-6)
    assert (tmp_path / 'out' / 'metrics.md').read_text().startswith('| sequence | HOTA |')
    (res / 'TUD-Campus.txt').unlink()
    assert eval_main([str(TUD), str(res)]) == 2
    assert 'TUD-Campus.txt: results file of sequence TUD-Campus not found' in capsys.readouterr().err
    assert eval_main([str(TUD), str(res), '--set', 'missing=empty']) == 0
    assert eval_main([str(TUD), str(res), '--set', 'nonsense=1']) == 2


def test_frames_outside_the_sequence_are_errors(tmp_path):
    "issue 7.6: gt or result rows outside 1..seqLength are an error naming file and line, not a silent metric change."
    d = _mot17_seq(tmp_path / 'gt')
    gt = d / 'gt' / 'gt.txt'
    res = [[t, 7, 10 + t, 10, 20, 50, 1, 1, 1] for t in range(1, 6)]
    write_mot_txt(tmp_path / 'res' / 'MOT17-XX.txt', res, style='result')
    assert evaluate(tmp_path / 'gt', tmp_path / 'res').loc['MOT17-XX', 'MOTA'] == pytest.approx(1.0)
    gt.write_text(gt.read_text() + '9,1,10,10,20,50,1,1,1\n')          # line 16, beyond seqLength=5
    with pytest.raises(MOTFormatError, match=r'gt\.txt:16: frame 9 is outside 1\.\.5 \(seqLength of MOT17-XX'):
        evaluate(tmp_path / 'gt', tmp_path / 'res')
    with pytest.raises(MOTFormatError, match=r'gt\.txt:16: frame 9'):
        evaluate([Sequence(d, require_images=False)], tmp_path / 'res')


def test_cost_does_not_grow_with_the_largest_frame(tmp_path):
    "issue 7.6: a result row at frame 10^9 (no seqinfo.ini, so no length to check against) costs one frame, not 10^9."
    import time, tracemalloc
    from motlib.eval import _prepare
    gt = np.array([[t, 1, 10, 10, 20, 50, 1, 1, 1] for t in range(1, 4)], float)
    res = np.concatenate([gt, [[10**9, 5, 10, 10, 20, 50, 1, -1, -1]]])
    tracemalloc.start(); t0 = time.perf_counter()
    d = _prepare(gt, res, name='far')
    m = evaluate_sequence(gt, res, 'far')
    elapsed, peak = time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    assert d['num_timesteps'] == 4 and list(d['frames']) == [1, 2, 3, 10**9]
    assert (m['FP'], m['FN'], m['IDs']) == (1, 0, 0)
    assert elapsed < 5 and peak < 50e6


def test_eval_config_values(tmp_path, capsys):
    "issue 7.7: --set distractor_classes=7 works (a 1-tuple); bad values and --out on a file are one-line errors."
    from motlib.core import ConfigError, make_config
    assert make_config(EvalConfig, overrides=['distractor_classes=7']).distractor_classes == (7,)
    assert make_config(EvalConfig, overrides={'distractor_classes': 7}).distractor_classes == (7,)
    assert make_config(EvalConfig, overrides=['distractor_classes=2,7']).distractor_classes == (2, 7)
    assert make_config(EvalConfig, overrides=['distractor_classes=()']).distractor_classes == ()
    for bad in ['iou_thr=0', 'iou_thr=1.5', 'iou_thr=abc', 'min_vis=-0.1', 'missing=skip', 'res_fmt={nam}.txt',
                'res_fmt=fixed.txt', 'distractor_classes=foo', 'distractor_classes=1.5']:
        with pytest.raises(ConfigError, match=r'EvalConfig'): make_config(EvalConfig, overrides=[bad])
    res = tmp_path / 'res'; res.mkdir()
    for n in NAMES: shutil.copy(TUD / n / 'test.txt', res / f'{n}.txt')
    assert eval_main([str(TUD), str(res), '--set', 'distractor_classes=7']) == 0
    capsys.readouterr()
    assert eval_main([str(TUD), str(res), '--set', 'iou_thr=5']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'EvalConfig.iou_thr must be in (0, 1]' in err
    f = tmp_path / 'table.txt'; f.write_text('mine')
    assert eval_main([str(TUD), str(res), '--out', str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'table.txt: --out must be a folder' in err and f.read_text() == 'mine'
    assert eval_main([str(TUD), str(res), '--out', str(f / 'sub')]) == 2
    assert 'is a file' in capsys.readouterr().err
    assert eval_main([str(TUD), str(res), '--preset', 'mot20']) == 0


def test_embedding_roc_memory_grows_with_pairs_not_pairs_times_dim():
    """TPR@FAR of 1280-d embeddings (SDE's ImageNet re-ID) once copied both rows of every pair: 18 GiB for 2,000
    boxes, an out-of-memory kill in `motlib-reproduce joint_vs_sde`. The pairs' similarities now come from one N x N
    product; here the old way would peak at about 1.6 GB."""
    import tracemalloc
    from motlib.eval import embedding_roc, tpr_at_far
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, 400)
    e = rng.normal(size=(20, 1280))[ids] + 0.5 * rng.normal(size=(400, 1280))
    tracemalloc.start()
    fa, tp, _ = embedding_roc(e, ids)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6, peak
    small, sid = e[:60], ids[:60]                          # the same ROC as the pairwise rows, on a few boxes
    l2 = small / np.linalg.norm(small, axis=1, keepdims=True)
    i, j = np.triu_indices(len(small), 1)
    from sklearn.metrics import roc_curve
    fa0, tp0, _ = roc_curve(sid[i] == sid[j], np.einsum('nd,nd->n', l2[i], l2[j]))
    fa1, tp1, _ = embedding_roc(small, sid)
    assert np.allclose(fa1, fa0) and np.allclose(tp1, tp0)
    assert tpr_at_far(e, ids, 0.1) > 0.5

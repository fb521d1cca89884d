"""The plug-in points of motlib.pipeline (issue 8, section 5): one method registry of callables, one tracker registry, and
the one detect -> track -> score loop `track_and_score`."""
import numpy as np
import pytest
import torch
from motlib.core import ConfigError, Detections, MotlibError
from motlib import pipeline
from motlib.pipeline import (METHODS, TRACKERS, MethodSpec, PublicDetector, build_tracker, load_trained, track_and_score,
                             train_method)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    generate(root, 'tiny', ('train', 'val'), 0, ['frames=6', 'seqs_train=1', 'seqs_val=2'], reid=False)
    return root


@pytest.fixture
def toy_method(monkeypatch):
    "A whole new method is one registry entry (its code lives in tests/toys.py)."
    monkeypatch.setitem(METHODS, 'toy', MethodSpec('toys', 'ToyConfig', 'TRAIN_PRESETS', 'build_toy', 'toy_dataset', tracker='sort'))
    return 'toy'


def test_a_new_method_needs_one_registry_entry(toy_method, data, tmp_path):
    "train_method builds its data through the entry (the old code ignored `dataset` and hard-coded FrameDataset)."
    import toys
    calls = []
    real = toys.toy_dataset
    def spy(sequences, cfg, augment=True):
        calls.append(([s.name for s in sequences], augment))
        return real(sequences, cfg, augment)
    toys_spy = pytest.MonkeyPatch()
    toys_spy.setattr(toys, 'toy_dataset', spy)
    try: r = train_method(toy_method, 'quick', data, tmp_path/'run', ['max_steps=3'], augment=False)
    finally: toys_spy.undo()
    assert r['step'] == 3 and len(calls) == 1 and calls[0][1] is False and len(calls[0][0]) == 1
    model, meta = load_trained(tmp_path/'run')
    assert meta['method'] == 'toy' and meta['num_ids'] == 4 and type(model).__name__ == 'ToyDetector'
    from motlib.pipeline import ModelDetector
    from motlib.data.mot import list_sequences
    out = track_and_score(ModelDetector(model, (32, 32), 'cpu'), list_sequences(data/'val'), tmp_path/'res',
                          METHODS[toy_method].tracker)
    assert list(out['metrics'].index)[-1] == 'OVERALL' and out['frames'] == 12


def test_method_entry_errors_name_the_field():
    spec = MethodSpec('motlib.models.fairmot', 'NoSuchConfig', 'TRAIN_PRESETS', 'build_fairmot', 'motlib.pipeline:frame_dataset')
    with pytest.raises(MotlibError, match="config='NoSuchConfig'"): spec.get('config')
    with pytest.raises(MotlibError, match='no load_weights'): spec.get('load_weights')
    assert spec.get('build_dataset') is pipeline.frame_dataset
    with pytest.raises(ConfigError, match="unknown method 'jdee'"): train_method('jdee')


def test_every_method_resolves():
    for name, spec in METHODS.items():
        for f in ('config', 'train_presets', 'build_model', 'build_dataset'): assert spec.get(f) is not None, (name, f)
        assert spec.tracker in TRACKERS
        build_tracker(spec.tracker, 25, spec.tracker_preset)


def test_track_and_score_contract(data, tmp_path):
    "Public detections through the loop: results written, metrics per sequence + OVERALL, collect fields as documented."
    from motlib.data.mot import list_sequences, read_mot_txt
    seqs = list_sequences(data/'val')
    over = {'max_age': '5'}
    r = track_and_score(PublicDetector(), seqs, tmp_path/'res', 'sort', overrides=over, collect=True)
    assert over == {'max_age': '5'}
    assert list(r['metrics'].index) == [s.name for s in seqs] + ['OVERALL']
    assert r['frames'] == sum(len(s) for s in seqs) == len(r['dets']) == len(r['gts']) and r['fps'] > 0
    assert all((tmp_path/'res'/f"{s.name}.txt").is_file() for s in seqs)
    assert len(read_mot_txt(tmp_path/'res'/f"{seqs[0].name}.txt")) > 0
    assert r['embeddings'].shape == (0, 0) and len(r['emb_ids']) == 0      # public detections carry no embeddings
    assert track_and_score(PublicDetector(), seqs, tmp_path/'res2', 'sort')['embeddings'] is None


def test_track_and_score_embeddings_have_global_identities(data, tmp_path):
    "A detector returning the gt boxes with one-hot embeddings: every gt box is matched, identities unique across sequences."
    from motlib.data.mot import list_sequences
    seqs = list_sequences(data/'val')
    by_name = {s.name: s for s in seqs}
    state = {'seq': None}
    def oracle(image, frame):
        seq = state['seq']
        g = seq.gt_frame(frame)
        return Detections(g.boxes, embeddings=np.eye(64)[g.ids % 64], frame=frame)
    class PerSequence:
        "Knows which sequence it is on (track_and_score goes through them in order)."
        def on_sequence(self, seq):
            state['seq'] = by_name[seq.name]
            return ((t, oracle(None, t)) for t in seq.frames())
    r = track_and_score(PerSequence(), seqs, tmp_path/'res', 'jde', 'fairmot', collect=True)
    n_gt = sum(len(g) for g in r['gts'])
    assert len(r['embeddings']) == len(r['emb_ids']) == n_gt
    n_ids = sum(len({int(i) for t in s.frames() for i in s.gt_frame(t).ids}) for s in seqs)
    assert len(set(r['emb_ids'].tolist())) == n_ids
    assert r['metrics'].loc['OVERALL', 'MOTA'] > 0.9


def test_track_and_score_rejects_bad_config_before_work(data, tmp_path):
    from motlib.data.mot import list_sequences
    with pytest.raises(ConfigError): track_and_score(PublicDetector(), list_sequences(data/'val'), tmp_path/'r', 'sort', overrides=['max_age=x'])
    with pytest.raises(ConfigError, match="unknown tracker"): track_and_score(PublicDetector(), list_sequences(data/'val'), tmp_path/'r', 'nope')
    assert not (tmp_path/'r').exists()


def test_weights_hook_is_wired_for_fairmot(tmp_path):
    "motlib-track --weights goes through MethodSpec.load_weights (FairMOT: the authors' checkpoints)."
    from motlib.pipeline import load_weights
    assert METHODS['fairmot'].load_weights is not None and callable(METHODS['fairmot'].get('load_weights'))
    with pytest.raises(MotlibError, match='no such weights file'): load_weights('fairmot', tmp_path/'nope.pth')
    (tmp_path/'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(MotlibError, match='junk.pth'): load_weights('fairmot', tmp_path/'junk.pth')


def test_model_detector_lowers_its_threshold_for_byte_only():
    "A BYTE tracker gets the low-score boxes it reads; the paper's tracker gets the model's own threshold."
    from types import SimpleNamespace
    from motlib.pipeline import ModelDetector, build_tracker, tracker_min_score
    seen = []
    class Fake(torch.nn.Module):
        cfg = SimpleNamespace(conf_thres=0.4)
        def detect(self, x, conf_thres=None):
            seen.append(conf_thres)
            s = np.array([0.9, 0.3, 0.05], np.float32)
            keep = s > (self.cfg.conf_thres if conf_thres is None else conf_thres)
            b = np.array([[0, 0, 10, 20], [20, 0, 30, 20], [40, 0, 50, 20]], np.float32)
            return [Detections(b[keep], s[keep], np.ones((int(keep.sum()), 4), np.float32))]
    det = ModelDetector(Fake(), (64, 32), 'cpu')
    paper, byte = build_tracker('jde', 30, 'fairmot'), build_tracker('jde', 30, 'fairmot_byte')
    assert tracker_min_score(paper) is None and tracker_min_score(byte) == pytest.approx(0.1)
    assert det.for_tracker(paper) is det
    low = det.for_tracker(byte)
    assert low is not det and low.conf_thres == pytest.approx(0.1) and det.conf_thres is None
    im = np.zeros((32, 64, 3), np.uint8)
    assert len(det(im, 1)) == 1 and len(low(im, 1)) == 2
    assert seen == [None, pytest.approx(0.1)]
    assert tracker_min_score(build_tracker('byte', 30)) == pytest.approx(0.1)


def test_model_detector_keeps_a_model_without_a_score_argument_for_byte():
    """TDT and QDTrack decode at one low threshold and take no `conf_thres`: a BYTE tracker (the offline rows of the
    quick tables) gets the detector unchanged instead of a TypeError mid-table (found by `motlib-reproduce tdt_quick`)."""
    from types import SimpleNamespace
    from motlib.pipeline import ModelDetector, build_tracker
    from motlib.models.tdt import TDT
    from motlib.models.qdtrack import QDTrack
    class Fake(torch.nn.Module):
        cfg = SimpleNamespace(score_thresh=0.05)
        def detect(self, x):
            return [Detections(np.array([[0, 0, 10, 20]], np.float32), np.array([0.07], np.float32),
                               np.ones((1, 4), np.float32))]
    det = ModelDetector(Fake(), (64, 32), 'cpu')
    offline = build_tracker('jde', 30, 'fairmot_offline')
    assert det.for_tracker(offline) is det
    assert len(det.for_tracker(offline)(np.zeros((32, 64, 3), np.uint8), 1)) == 1
    import inspect
    for m in (TDT, QDTrack): assert 'conf_thres' not in inspect.signature(m.detect).parameters

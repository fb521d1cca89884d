"""TDT (issue 11, sections 2-3; notebook 18): the student never reads an identity label (garbage identities ->
bit-identical training), pseudo labels cached under a content hash of teacher and data, labels follow boxes through
augmentation, the loss and inference rules of paper 004, and the registry entry (train -> load -> track)."""
import shutil
import numpy as np
import pytest
import torch
from motlib.core import ConfigError, MotlibError, make_config
from motlib.data.mot import list_sequences, read_mot_txt, write_mot_txt
from motlib.models.tdt import (PseudoLabels, TDTConfig, TDTDataset, build_tdt, collate_tdt, labels_key, teacher_labels,
                               storage_overhead)
from motlib.models.reid import load_reid

torch.set_num_threads(1)
SMALL = ['progress=false', 'max_steps=2', 'batch_size=2', 'input_size=(160,96)', 'log_every=1']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    generate(root, 'tiny', ('train', 'val'), 0, ['frames=4', 'seqs_train=1', 'seqs_val=1'], reid=False)
    return root


@pytest.fixture(scope='module')
def teacher():
    "A small, cheap teacher (quick re-ID preset, random weights): labels need any fixed network, not a good one."
    from motlib.models.reid import ReIDConfig, build_reid
    torch.manual_seed(0)
    return build_reid(make_config(ReIDConfig, 'quick', overrides={'input_size': (32, 64), 'width': 0.25})).eval()


def _garbage_ids(src, dst):
    "A copy of the data root whose gt identity column is replaced by random integers (rows and everything else kept)."
    shutil.copytree(src, dst)
    rng = np.random.default_rng(123)
    for s in list_sequences(dst/'train') + list_sequences(dst/'val'):
        p = s.path/'gt'/'gt.txt'
        g = read_mot_txt(p)
        g[:, 1] = rng.integers(-5, 10**6, len(g))
        write_mot_txt(p, g)
    return dst


def test_training_never_reads_an_identity_label(data, tmp_path):
    "Issue 11: identity column replaced by garbage -> the same labels (recomputed) and bit-identical weights."
    from motlib.checkpoint import load_checkpoint
    from motlib.pipeline import train_method
    bad = _garbage_ids(data, tmp_path/'garbage')
    assert not np.array_equal(list_sequences(bad/'train')[0].gt[:, 1], list_sequences(data/'train')[0].gt[:, 1])
    outs = []
    for root, name in ((data, 'a'), (bad, 'b')):
        over = SMALL + [f"label_cache={tmp_path/('cache_' + name)}"]
        train_method('tdt', 'quick', root, tmp_path/name, over, augment=True)
        outs.append(load_checkpoint(tmp_path/name/'model.pt'))
    la, lb = (PseudoLabels.load(next((tmp_path/f"cache_{n}").glob('*.npz'))) for n in 'ab')
    assert la.path.name == lb.path.name and all(np.array_equal(la.arrays[k], lb.arrays[k]) for k in la.arrays)
    sa, sb = (o['model'] if 'model' in o else o for o in outs)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    logs = [(tmp_path/n/'log.csv').read_text().splitlines() for n in 'ab']
    # every logged value but the time column
    assert [r.rsplit(',', 1)[0] for r in logs[0]] == [r.rsplit(',', 1)[0] for r in logs[1]]


def test_labels_cached_under_content_hash(data, tmp_path, teacher):
    seqs = list_sequences(data/'train')
    lab = teacher_labels(seqs, teacher, cache_dir=tmp_path)
    n_rows = sum(int((s.gt[:, 6] != 0).sum()) for s in seqs)
    assert len(lab) == n_rows and lab.dim == 512 and lab.arrays['emb0'].dtype == np.float16
    mtime = lab.path.stat().st_mtime_ns
    again = teacher_labels(seqs, teacher, cache_dir=tmp_path)
    assert again.path == lab.path and lab.path.stat().st_mtime_ns == mtime               # found, not recomputed
    key = labels_key(seqs, teacher)
    with torch.no_grad(): teacher.embedding[0].weight[0, 0] += 1e-3                      # one teacher weight changes
    try: assert labels_key(seqs, teacher) != key
    finally:
        with torch.no_grad(): teacher.embedding[0].weight[0, 0] -= 1e-3
    assert labels_key(seqs, teacher, min_vis=0.5) != key
    ov = storage_overhead(lab, seqs)
    assert ov['label_bytes'] == lab.path.stat().st_size and 0 < ov['overhead'] and ov['boxes'] == n_rows
    assert [p.name for p in tmp_path.iterdir()] == [lab.path.name]                       # no temp files left
    lab.path.write_bytes(b'junk')
    with pytest.raises(MotlibError, match='not a TDT pseudo-label file'): PseudoLabels.load(lab.path)


def test_labels_change_with_a_pixel(data, tmp_path, teacher):
    root = tmp_path/'copy'
    shutil.copytree(data/'train', root/'train')
    seqs = list_sequences(root/'train')
    key = labels_key(seqs, teacher)
    p = seqs[0].image_path(2)
    b = bytearray(p.read_bytes())
    b[-10] ^= 1
    p.write_bytes(bytes(b))
    assert labels_key(list_sequences(root/'train'), teacher) != key


def test_labels_follow_boxes_through_augmentation(data, tmp_path, teacher):
    from motlib.data.datasets import AugConfig, AugParams
    seqs = list_sequences(data/'train')
    lab = teacher_labels(seqs, teacher, cache_dir=tmp_path)
    ds = TDTDataset(seqs, lab, 64, (320, 192), make_config(AugConfig, 'tdt'))
    assert ds.num_ids is None
    for t in seqs[0].frames():
        full = ds.load(0, t)
        assert torch.equal(full['teacher'], torch.from_numpy(lab.frame(0, t)[:, :64]))
        assert full['ids'].eq(-1).all()
        for p in (AugParams(scale=2.0), AugParams(scale=1.7, flip=True), AugParams(scale=0.5)):
            s = ds.load(0, t, p)
            assert torch.equal(s['teacher'], full['teacher'][s['rows']])
    b = collate_tdt([ds[0], ds[1]])
    assert len(b['teacher']) == 2 and b['teacher'][0].shape[1] == 64
    with pytest.raises(ConfigError, match='emb_dim'): TDTDataset(seqs, lab, 1024, (320, 192))


def test_config_and_paper_defaults():
    c = TDTConfig()
    assert (c.focal_alpha, c.focal_gamma, c.huber_delta, c.w_cls, c.w_box, c.w_emb) == (0.25, 1.5, 0.1, 1.0, 50.0, 10.0)
    assert (c.score_thresh, c.nms_thresh, c.max_dets, c.emb_channels, c.head_channels) == (0.05, 0.5, 100, 256, 128)
    for over, field in ((dict(backbone='vgg16'), 'backbone'), (dict(input_size=(100, 64)), 'input_size'),
                        (dict(bg_iou=0.7), 'bg_iou'), (dict(emb_dim=0), 'emb_dim'),
                        (dict(anchor_sizes=(32,)), 'anchor_sizes'), (dict(input_size=(128, 96)), 'too small'),
                        (dict(teacher=''), 'teacher'), (dict(w_emb=-1), 'w_emb'), (dict(head_norm='bn'), 'head_norm')):
        with pytest.raises(ConfigError, match=field) as e: TDTConfig(**over)
        assert '\n' not in str(e.value)
    from motlib.data.datasets import AugConfig
    a = make_config(AugConfig, 'tdt')
    assert a.scale == (0.5, 2.0) and a.degrees == (0, 0) and a.hsv_fraction == 0
    assert a.translate == (0, 0) and a.flip_prob == 0.5


def test_embedding_loss_is_eq1_and_detect_rules():
    from torchvision.ops import box_iou
    torch.manual_seed(0)
    m = build_tdt(make_config(TDTConfig, 'quick', overrides={'input_size': (160, 96)}))
    img, gt = torch.rand(1, 3, 96, 160), torch.tensor([[30., 20., 50., 80.]])
    f = torch.nn.functional.normalize(torch.randn(1, 128), dim=1)
    L = m.loss(dict(images=img, boxes=[gt], teacher=[f], ids=[torch.tensor([12345])]))
    with torch.no_grad():
        o = m(img)
        pos = m.matcher(box_iou(gt, o['anchors'])) >= 0
        ref = ((o['emb'][0][pos] - f) ** 2).sum(1).mean()
    assert pos.any() and L['emb'].item() == pytest.approx(ref.item(), rel=1e-4)
    w = m.cfg                                                       # the quick preset weighs L_e by 3 (paper: 10)
    assert (w.w_cls, w.w_box, w.w_emb) == (1.0, 50.0, 3.0) and TDTConfig().w_emb == 10.0
    assert L['loss'].item() == pytest.approx(L['cls'].item() + 50 * L['box'].item() + 3 * L['emb'].item(), rel=1e-4)
    with torch.no_grad(): m.cls_head[-1].bias.fill_(5.0)                                # every anchor scores ~1
    m.eval()
    d = m.detect(torch.rand(2, 3, 96, 160))
    assert [len(x) for x in d] == [100, 100]
    assert np.allclose(np.linalg.norm(d[0].embeddings, axis=1), 1, atol=1e-4)
    with torch.no_grad(): m.cls_head[-1].bias.fill_(-10.0)
    assert [len(x) for x in m.detect(torch.rand(1, 3, 96, 160))] == [0]


def test_registry_train_track(data, tmp_path):
    "motlib-train tdt -> load_trained -> track_and_score, like every method (FairMOT's association)."
    from motlib.pipeline import METHODS, train_method, load_trained, ModelDetector, track_and_score
    assert METHODS['tdt'].tracker == 'jde' and METHODS['tdt'].tracker_preset == 'fairmot'
    train_method('tdt', 'quick', data, tmp_path/'run', SMALL + [f"label_cache={tmp_path/'cache'}"])
    model, meta = load_trained(tmp_path/'run')
    assert meta['method'] == 'tdt' and meta['num_ids'] is None and model.cfg.input_size == (160, 96)
    r = track_and_score(ModelDetector(model, model.cfg.input_size, 'cpu'), list_sequences(data/'val'), tmp_path/'res',
                        'jde', 'fairmot')
    assert 'OVERALL' in r['metrics'].index


def test_detection_only_sequences_join_training(data, tmp_path):
    """Section 4.4.4: detection-only sequences (every gt id -1, another root) join TDT's training set through
    `motlib-train --extra-train`; roots that share a sequence name, or lack train/, are refused before any work."""
    from motlib.cli import train_main
    from motlib.data.mot import read_mot_txt
    from motlib.data.synth import generate
    from motlib.pipeline import read_run_meta, training_sequences
    extra = tmp_path/'detonly'
    generate(extra, 'tiny_detonly', ('train',), 1, ['frames=4', 'seqs_train=1'], reid=False)
    seq = extra/'train'/'SynthMOT-tiny_detonly-train-01'
    assert (read_mot_txt(seq/'gt'/'gt.txt')[:, 1] == -1).all()
    names = [s.name for s in training_sequences([data, extra])]
    assert names == ['SynthMOT-tiny-train-01', 'SynthMOT-tiny_detonly-train-01']
    out = tmp_path/'run'
    argv = ['tdt', '--preset', 'quick', '--data', str(data), '--extra-train', str(extra), '--out', str(out),
            '--set', *SMALL, f"label_cache={tmp_path/'cache'}"]
    assert train_main(argv) == 0
    assert read_run_meta(out)['data'] == [str(data), str(extra)] and (out/'model.pt').is_file()
    with pytest.raises(MotlibError, match="sequence SynthMOT-tiny-train-01 is also in"):
        training_sequences([data, data])
    with pytest.raises(MotlibError, match="nope: no train/ folder"):
        training_sequences([data, tmp_path/'nope'])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_tdt_trains_on_cuda(data, tmp_path):
    "A few student steps on the GPU through the shared engine: finite, decreasing loss; detect on cuda works."
    import csv
    from motlib.pipeline import train_method, load_trained
    over = ['progress=false', 'max_steps=30', 'epochs=30', 'warmup_iters=5', 'batch_size=4', 'log_every=1', 'device=cuda',
            f"label_cache={tmp_path/'cache'}"]
    train_method('tdt', 'quick', data, tmp_path/'gpu', over)
    loss = [float(r['loss']) for r in csv.DictReader(open(tmp_path/'gpu'/'log.csv'))]
    assert len(loss) == 30 and all(np.isfinite(loss)) and np.mean(loss[-5:]) < np.mean(loss[:5])
    model, _ = load_trained(tmp_path/'gpu', device='cuda')
    d = model.detect(torch.rand(1, 3, 192, 320, device='cuda'))
    assert len(d) == 1


def test_tdt_tables_are_data():
    "The TDT tables of notebook 14: their rows resolve to TDT (or FairMOT) runs with the teachers and D_s they name."
    from motlib.reproduce import TABLES, row_plan, preset_rows
    for name in ('tdt_quick', 'tdt_table3', 'tdt_table4', 'tdt_table6'):
        assert name in TABLES and preset_rows(name, 'quick') == list(TABLES[name].rows)
    assert [row_plan('tdt_table6', r)['train']['emb_dim'] for r in TABLES['tdt_table6'].rows] == [64, 128, 256, 512]
    teachers = [row_plan('tdt_table3', r)['train']['teacher'] for r in TABLES['tdt_table3'].rows]
    assert teachers == ['runs/teachers/osnet-small', 'mobilenetv2', 'runs/teachers/osnet-large', 'runs/teachers/mobilenetv2-ft']
    p = row_plan('tdt_quick', 'quick preset')
    assert (p['method'], p['tracker'], p['tracker_preset']) == ('tdt', 'jde', 'fairmot')
    assert row_plan('tdt_table4', 'FairMOT')['method'] == 'fairmot'

"""QDTrack model (notebook 15): losses against hand-computed values, the track RoI sampler, the loss/detect contract,
the registry entry (train -> load -> track -> score on a tiny SynthMOT), and a GPU check that is skipped without CUDA."""
import csv, math
import numpy as np
import pytest
import torch

from motlib.core import ConfigError, Detections, MotlibError, make_config
from motlib.models.qdtrack import (QDTrackConfig, build_qdtrack, l2_aux_loss, multipos_contrastive_loss, qdtrack_dataset,
                                   sample_track_rois, track_targets)

TINY = dict(backbone='mobilenetv2', pretrained=False, input_size=(96, 64), fpn_channels=16, anchor_sizes=(8, 16, 32, 64),
            box_head_dim=32, rpn_post_nms_train=50, box_batch_size=32, emb_conv_channels=16, emb_fc=32, emb_dim=16,
            rois_per_image=32)
TINY_SET = [f'{k}={v}' for k, v in TINY.items() if k != 'input_size'] + ['input_size=(96,64)']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    generate(root, 'tiny', ('train', 'val'), 0, ['frames=6', 'seqs_train=1', 'seqs_val=1'], reid=False)
    return root


def _pairs(B=2, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    def frame():
        xy = torch.rand(n, 2, generator=g) * torch.tensor([60., 20])
        boxes = torch.cat([xy, xy + torch.tensor([20., 40])], 1)
        return boxes
    mk = lambda: dict(images=torch.rand(B, 3, 64, 96, generator=g), boxes=[frame() for _ in range(B)],
                      ids=[torch.arange(n) for _ in range(B)], labels=[torch.zeros(n, dtype=torch.long) for _ in range(B)])
    return dict(key=mk(), ref=mk())


def test_contrastive_loss_by_hand():
    "Eq. 3: rows (2,1,0) with positives {0,1} and (0,3,1) with positive {1}; a row without positive does not count."
    sim = torch.tensor([[2., 1, 0], [0, 3, 1], [1, 1, 1]])
    t = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=torch.bool)
    want = (math.log(1 + math.exp(-2) + math.exp(-1)) + math.log(1 + math.exp(-3) + math.exp(-2))) / 2
    assert abs(float(multipos_contrastive_loss(sim, t)) - want) < 1e-6
    assert abs(want - 0.28873) < 1e-5


def test_contrastive_loss_is_the_literal_double_sum():
    g = torch.Generator().manual_seed(1)
    for _ in range(10):
        s, t = torch.randn(5, 8, generator=g) * 2, torch.rand(5, 8, generator=g) < 0.3
        rows = [math.log(1 + sum(math.exp(s[i, k] - s[i, j]) for j in range(8) if t[i, j] for k in range(8) if not t[i, k]))
                for i in range(5) if t[i].any()]
        want = sum(rows) / len(rows) if rows else 0.0
        assert abs(float(multipos_contrastive_loss(s, t)) - want) < 1e-5


def test_contrastive_single_positive_is_cross_entropy():
    s = torch.randn(4, 6)
    t = torch.zeros(4, 6, dtype=torch.bool)
    t[:, 1] = True
    ce = torch.nn.functional.cross_entropy(s, torch.ones(4, dtype=torch.long))
    assert abs(float(multipos_contrastive_loss(s, t)) - float(ce)) < 1e-5


def test_l2_aux_loss_by_hand():
    "(0.9-1)^2 = .01; negatives .5,.05,.3 -> margin .1 -> .16, 0, .04: mean .0525; one hard negative: (.01+.16)/2."
    cos = torch.tensor([[0.9, 0.5, 0.05, 0.3]])
    t = torch.tensor([[1, 0, 0, 0]], dtype=torch.bool)
    assert abs(float(l2_aux_loss(cos, t)) - 0.0525) < 1e-6
    assert abs(float(l2_aux_loss(cos, t, neg_pos=1)) - 0.085) < 1e-6


def test_sampler_thresholds_and_ratio():
    torch.manual_seed(0)
    gt = torch.tensor([[10., 10, 50, 100], [100, 20, 140, 110]])
    props = torch.cat([gt[i] + torch.randn(40, 4) * 3 for i in range(2)] + [torch.rand(100, 4) * 150])
    cfg = QDTrackConfig(rois_per_image=32)
    s = sample_track_rois(props, gt, cfg)
    from torchvision.ops import box_iou
    iou = box_iou(s['boxes'], gt).max(1).values
    pos = s['gt'] >= 0
    assert (iou[pos] >= 0.7).all() and (iou[~pos] < 0.3).all()
    assert int(pos.sum()) == 16 and int((~pos).sum()) <= 48 and len(s['boxes']) <= 32
    assert set(s['gt'][pos].tolist()) == {0, 1}
    e = sample_track_rois(props, gt[:0], cfg)              # a frame without people: a few negatives, no positive
    assert (e['gt'] < 0).all()


def test_track_targets_ignore_unknown_ids():
    t = track_targets(torch.tensor([3, 5, -1]), torch.tensor([5, -1, 3, 5]))
    assert t.int().tolist() == [[0, 0, 1, 0], [1, 0, 0, 1], [0, 0, 0, 0]]


@pytest.mark.parametrize('sampling', ['quasi_dense', 'sparse'])
@pytest.mark.parametrize('det_on_ref', [False, True])
def test_loss_and_detect_contract(sampling, det_on_ref):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = build_qdtrack(QDTrackConfig(**TINY, sampling=sampling, det_on_ref=det_on_ref))
    L = m.loss(_pairs())
    assert {'loss', 'loss_objectness', 'loss_rpn_box_reg', 'loss_classifier', 'loss_box_reg', 'track', 'track_aux'} <= set(L)
    assert torch.isfinite(L['loss']) and L['loss'].requires_grad
    L['loss'].backward()
    assert m.embed_head.embed.weight.grad is not None and m.embed_head.embed.weight.grad.abs().sum() > 0
    d = m.detect(_pairs()['key']['images'])
    assert len(d) == 2 and all(isinstance(x, Detections) for x in d)
    assert all(x.embeddings.shape == (len(x), 16) and (x.labels == 0).all() for x in d)
    assert m.training                                            # detect leaves the mode as it was


def test_empty_frames_and_bad_labels():
    torch.manual_seed(0)
    m = build_qdtrack(QDTrackConfig(**TINY))
    b = _pairs(n=0)
    assert torch.isfinite(m.loss(b)['loss'])
    b = _pairs()
    b['key']['labels'][0] = torch.tensor([0, 1, 0])
    with pytest.raises(MotlibError, match='num_classes'): m.loss(b)
    with pytest.raises(MotlibError, match='multiples of 32'): m.detect(torch.rand(1, 3, 60, 96))


def test_config_errors_are_one_line():
    for bad in (dict(pos_iou=0.2, neg_iou=0.3), dict(input_size=(100, 64)), dict(sampling='dense'), dict(pretrained=True),
                dict(backbone='mobilenetv2', anchor_sizes=(8, 16)), dict(emb_dim=0), dict(aux_neg_margin=2.0)):
        with pytest.raises(ConfigError) as e: QDTrackConfig(**bad)
        assert '\n' not in str(e.value)


def test_two_classes_labels(data):
    "Boxes of class 2 come with label 1 when the model has two classes; class-1 only data gives label 0."
    ds = qdtrack_dataset(str(data/'train'), QDTrackConfig(**TINY), augment=False)
    s = ds[0]
    assert s['key']['labels'].tolist() == [0] * len(s['key']['ids'])
    assert ds.num_ids > 0


def test_registry_train_track_eval(data, tmp_path):
    "`motlib-train qdtrack` path: train a few steps, reload the run, track with the `qd` tracker, score."
    from motlib.pipeline import METHODS, ModelDetector, load_trained, track_and_score, train_method
    assert METHODS['qdtrack'].tracker == 'qd'
    train_method('qdtrack', 'quick', data, tmp_path/'run', TINY_SET + ['max_steps=2', 'batch_size=2', 'progress=false',
                                                                       'device=cpu'])
    model, meta = load_trained(tmp_path/'run')
    assert meta['method'] == 'qdtrack' and model.cfg.emb_dim == 16
    r = track_and_score(ModelDetector(model, model.cfg.input_size, 'cpu'), str(data/'val'), tmp_path/'res', 'qd', 'qdtrack')
    assert 'MOTA' in r['metrics'].columns and r['frames'] == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_qdtrack_trains_on_cuda(data, tmp_path):
    "A few steps of the quick preset on the GPU through the shared engine: finite, decreasing loss; detect on cuda."
    from motlib.pipeline import train_method, load_trained
    train_method('qdtrack', 'quick', data, tmp_path/'gpu', ['max_steps=30', 'epochs=30', 'batch_size=2', 'progress=false',
                                                            'device=cuda', 'log_every=1', 'warmup_iters=5'])
    rows = list(csv.DictReader(open(tmp_path/'gpu'/'log.csv')))
    loss = [float(x['loss']) for x in rows]
    assert len(loss) == 30                         # the 6-frame fixture gives 3 steps per epoch: epochs must not stop it
    assert all(np.isfinite(loss)) and np.mean(loss[-5:]) < np.mean(loss[:5])
    model, _ = load_trained(tmp_path/'gpu', device='cuda')
    d = model.detect(torch.rand(1, 3, 192, 320, device='cuda'))[0]
    assert d.embeddings is not None and np.isfinite(d.embeddings).all()

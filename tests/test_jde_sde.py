"""SDE (motlib.models.jde, notebook 13): JDE's detector alone + a separate re-ID network on crops (paper 003, Fig. 3)."""
import numpy as np
import pytest
import torch
from motlib.core import ConfigError, make_config
from motlib.models.jde import SDE, JDEConfig, SDEConfig, build_jde, build_sde
from motlib.models.reid import ReIDConfig, build_reid

torch.set_num_threads(1)
SMALL = dict(backbone='mobilenetv2', input_size=(96, 64), fpn_channels=16, emb_dim=16, anchor_ref_width=384)


def _sde():
    torch.manual_seed(0)
    return SDE(build_jde(JDEConfig(**SMALL)), build_reid(ReIDConfig(arch='osnet_like', width=0.25, dim=8,
                                                                     input_size=(32, 64))))


def test_sde_embeds_every_box_with_the_reid_network():
    sde, images = _sde(), torch.rand(2, 3, 64, 96)
    dets = sde.detect(images, conf_thres=0.0)
    boxes = sde.detector.detect(images, conf_thres=0.0)
    for d, b in zip(dets, boxes):
        assert len(d) == len(b) > 0 and d.embeddings.shape == (len(d), 8)
        np.testing.assert_allclose(d.boxes, b.boxes)
        np.testing.assert_allclose(np.linalg.norm(d.embeddings, axis=1), 1, atol=1e-4)


def test_sde_trains_the_detector_only():
    "train() leaves the re-ID network frozen in eval mode; the loss has no embedding term."
    sde = _sde().train()
    assert sde.detector.training and not sde.reid.training
    assert not any(p.requires_grad for p in sde.reid.parameters())
    b = dict(images=torch.rand(2, 3, 64, 96), boxes=[torch.tensor([[8., 8., 32., 56.]])] * 2,
             ids=[torch.tensor([0])] * 2, labels=[torch.zeros(1, dtype=torch.long)] * 2, meta=[{}] * 2)
    L = sde.loss(b)
    assert torch.isfinite(L['loss']) and 'emb' not in L


def test_sde_config_and_registry():
    from motlib.pipeline import METHODS, method_configs
    with pytest.raises(ConfigError, match='SDEConfig.reid'): SDEConfig(reid='')
    with pytest.raises(ConfigError, match='does not exist'): SDEConfig(reid='no/such/reid-run')
    c = make_config(SDEConfig, 'quick', overrides=dict(pretrained=False))
    assert c.reid == 'mobilenetv2' and c.anchor_ref_width == make_config(JDEConfig, 'quick').anchor_ref_width
    m = build_sde(c, num_ids=7)
    assert m.detector.cfg.num_ids == 0 and m.detector.classifier is None
    mcfg, tcfg = method_configs('sde', 'quick')
    assert isinstance(mcfg, SDEConfig) and METHODS['sde'].get('build_model') is build_sde


def test_jde_detect_takes_a_lower_threshold():
    "ModelDetector.for_tracker asks for low-score boxes (BYTE): detect(images, conf_thres) returns at least as many."
    torch.manual_seed(0)
    m, x = build_jde(JDEConfig(**SMALL), num_ids=3), torch.rand(1, 3, 64, 96)
    assert len(m.detect(x, conf_thres=0.01)[0]) >= len(m.detect(x)[0])

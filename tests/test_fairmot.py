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

"A toy detector, its data and a toy method entry for the tests (the lesson's copy is in nbs/10b_train.ipynb, not exported)."
from __future__ import annotations
from dataclasses import dataclass
import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision.ops import generalized_box_iou_loss
from motlib.core import ConfigError, Detections
from motlib.data.datasets import collate


class ToyDetector(nn.Module):
    "A tiny one-box detector with the motlib model contract (`loss`, `detect`)."
    def __init__(self, width: int = 8, size: int = 32):
        super().__init__()
        self.size = size
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, 2, 1), nn.ReLU(),
                                  nn.Flatten(), nn.Linear(2 * width * (size // 4) ** 2, 4))

    def forward(self, images):
        "xyxy boxes (B, 4) in pixels, one per image."
        c = self.body(images).sigmoid() * self.size
        return torch.cat([c[:, :2] - c[:, 2:] / 2, c[:, :2] + c[:, 2:] / 2], 1)

    def loss(self, batch) -> dict:
        pred, gt = self(batch['images']), torch.stack([b[0] for b in batch['boxes']]).to(batch['images'].dtype)
        l1 = (pred - gt).abs().mean() / self.size
        giou = generalized_box_iou_loss(pred.float(), gt.float(), reduction='mean')
        return dict(loss=l1 + giou, l1=l1, giou=giou)

    @torch.no_grad()
    def detect(self, images) -> list[Detections]:
        return [Detections(b[None], embeddings=np.ones((1, 2), np.float32)) for b in self(images).float().cpu().numpy()]


class ToyBoxes(Dataset):
    "`n` images (3, size, size) with one rectangle each, as frame samples (`image`, `boxes`, `ids`, `labels`, `meta`)."
    collate_fn = staticmethod(collate)

    def __init__(self, n: int = 64, size: int = 32, seed: int = 0, noise: float = 0.05):
        self.n, self.size, self.seed, self.noise = n, size, seed, noise
        self.num_ids = 4

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        r, S = np.random.default_rng([self.seed, i]), self.size
        w, h = (r.uniform(0.25, 0.6, 2) * S).astype(int)
        x, y = int(r.integers(0, S - w)), int(r.integers(0, S - h))
        img = torch.full((3, S, S), 0.2)
        img[:, y:y + h, x:x + w] = torch.from_numpy(r.uniform(0.5, 1, (3, 1, 1))).float()
        img = img + self.noise * torch.randn(3, S, S)      # "augmentation" from torch's global generator
        return dict(image=img, boxes=torch.tensor([[x, y, x + w, y + h]], dtype=torch.float32),
                    ids=torch.tensor([i % 4]), labels=torch.zeros(1, dtype=torch.int64),
                    rows=torch.zeros(1, dtype=torch.int64), meta=dict(index=i))


# A whole method in one registry entry: METHODS['toy'] = MethodSpec('toys', 'ToyConfig', 'TRAIN_PRESETS', 'build_toy', 'toy_dataset')
@dataclass
class ToyConfig:
    width: int = 8
    input_size: tuple = (32, 32)
    num_ids: int = 0

    def __post_init__(self):
        self.input_size = tuple(int(v) for v in self.input_size)
        if self.width < 1: raise ConfigError(f"ToyConfig.width must be >= 1, got {self.width}")

    @staticmethod
    def presets():
        return dict(quick={})


TRAIN_PRESETS = dict(quick=dict(epochs=1, batch_size=4, lr=1e-2, lr_steps=(), log_every=1, progress=False, device='cpu'))


def build_toy(cfg: ToyConfig, num_ids=None) -> ToyDetector:
    m = ToyDetector(cfg.width, cfg.input_size[0])
    m.cfg = ToyConfig(cfg.width, cfg.input_size, int(num_ids or 0))
    return m


def toy_dataset(sequences, cfg: ToyConfig, augment: bool = True) -> ToyBoxes:
    return ToyBoxes(16, cfg.input_size[0], noise=0.05 if augment else 0.0)

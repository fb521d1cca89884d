"""Median engine step time of a method's training preset on a CUDA GPU, under a few settings (a ratio in one run).

Usage (on a GPU machine, repository root):  python scripts/gpu_step_time.py fairmot full data/synth OUT.md
Pre-drawn augmented batches (the data loader is not timed); each setting times `Trainer.train_step` with
`torch.cuda.synchronize()` around it, interleaved across settings so drifts of the machine hit all of them.
"""
import os, sys, time, platform, datetime
import numpy as np, torch
from motlib.bench import training_batches
from motlib.pipeline import METHODS, method_configs
from motlib.train import Trainer
from motlib.core import atomic_write_text

method, preset, data, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
steps, warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 20, 5
dev = os.environ.get('DEVICE', 'cuda')          # DEVICE=cpu: a dry run of this script
sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
settings = {'bf16 autocast, channels_last': dict(amp='bf16', channels_last=True),
            'bf16 autocast': dict(amp='bf16', channels_last=False),
            'float32': dict(amp='off', channels_last=False)}
mcfg, tcfg, ds, batches, data_ms = training_batches(method, preset, data, ['device=cpu'], steps + warmup, 0)
trainers = {}
for name, s in settings.items():
    torch.manual_seed(0)
    m_cfg, t_cfg = method_configs(method, preset, [f'{k}={v}' for k, v in s.items()] + [f'device={dev}'],
                                  out_dir=f'/tmp/gpu-step-{len(trainers)}')
    model = METHODS[method].get('build_model')(m_cfg, ds.num_ids)
    trainers[name] = Trainer(model, ds, t_cfg)
times = {k: [] for k in settings}
for i, b in enumerate(batches):
    for name, tr in trainers.items():
        sync()
        t0 = time.perf_counter()
        tr.train_step(b)
        sync()
        if i >= warmup: times[name].append(time.perf_counter() - t0)
med = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
ref = med['float32']
lines = [f"# {method} `{preset}` training step on a GPU", '',
         f"- command: `python scripts/gpu_step_time.py {' '.join(sys.argv[1:])}`",
         f"- device: {torch.cuda.get_device_name(0) if dev == 'cuda' else platform.processor() or 'cpu'}; torch {torch.__version__}; Python {platform.python_version()}",
         f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')}",
         f"- batch {tcfg.batch_size}, input {tuple(mcfg.input_size)}, backbone {getattr(mcfg, 'backbone', '?')}; "
         f"{steps} timed steps after {warmup} warm-up steps, same batches for every setting (interleaved)",
         f"- data loading (CPU, one process, not part of the step): {data_ms:.0f} ms per batch", '',
         '| setting | median ms/step | images/s | vs float32 |', '|---|---:|---:|---:|']
for k, v in med.items():
    lines.append(f"| {k} | {v:.1f} | {tcfg.batch_size / v * 1e3:.0f} | {ref / v:.2f}x |")
text = '\n'.join(lines) + '\n'
print(text)
atomic_write_text(out, text)          # a failed run leaves an earlier report as it was

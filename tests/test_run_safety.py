"""Issue 7 defects 2, 3, 5, 7, 9 and 10 for motlib-train / motlib-track: nothing lost, nothing silently wrong.
Each test fails on the code before the fix (see the docstrings) and runs in seconds on a CPU."""
import contextlib, io, json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import torch
from motlib.core import MotlibError, ConfigError
from motlib.cli import train_main, track_main

torch.set_num_threads(1)
TINY = ['max_steps=2', 'input_size=(96, 64)', 'batch_size=2', 'progress=false']
BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "A SynthMOT root with one short training and one short validation sequence."
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    generate(root, 'tiny', ('train', 'val'), 0, ['frames=8', 'seqs_train=1', 'seqs_val=1'], reid=False)
    return root


@pytest.fixture(scope='module')
def run(data, tmp_path_factory):
    "A finished tiny FairMOT run folder (read-only for the tests: copy it before changing it)."
    out = tmp_path_factory.mktemp('runs')/'run'
    assert train_main(['fairmot', '--data', str(data), '--out', str(out), '--set', *TINY]) == 0
    return out


def cli(main, *args):
    "(exit code, stderr) of an in-process console script."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): code = main([str(a) for a in args])
    return code, err.getvalue()


def one_line_error(code, err, *needles):
    assert code == 2, (code, err)
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    for n in needles: assert n in err, (n, err)


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


def copy_run(run, tmp_path) -> Path:
    dst = tmp_path/'run'
    shutil.copytree(run, dst)
    return dst


# defect 2 ------------------------------------------------------------------------------------------------------------
def test_missing_checkpoint_path_is_an_error_not_a_fallback(run, data):
    "Old code: RUN/epoch_005.pt that does not exist silently loaded RUN/model.pt and exited 0."
    from motlib.pipeline import load_trained
    with pytest.raises(MotlibError, match='epoch_005.pt: no such run folder or checkpoint'): load_trained(run/'epoch_005.pt')
    one_line_error(*cli(track_main, run/'epoch_005.pt', data/'val', '--no-video'), 'epoch_005.pt')


# defect 3 ------------------------------------------------------------------------------------------------------------
def test_fresh_run_into_another_runs_folder_is_refused_before_any_write(run, data, tmp_path):
    "Old code: a warning, then Ctrl-C saved over the old last.pt and model.json was rewritten."
    r = copy_run(run, tmp_path)
    before = snapshot(r)
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', r, '--set', *TINY, 'reid_dim=64'), 'holds another training run')
    assert snapshot(r) == before


def test_resume_with_changed_config_is_refused_before_any_write(run, data, tmp_path):
    "Old code: --resume with a changed model config exited 2 after rewriting model.json (the run could no longer be loaded)."
    r = copy_run(run, tmp_path)
    before = snapshot(r)
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', r, '--resume', '--set', *TINY, 'reid_dim=64'),
                   'reid_dim: 128 -> 64')
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', r, '--resume', '--set', *TINY, 'lr=0.1'),
                   'cannot resume with changed settings', 'lr:')
    assert snapshot(r) == before
    from motlib.pipeline import load_trained
    load_trained(r)                                                  # still loadable


def test_resume_without_checkpoint_is_an_error(data, tmp_path):
    "Old code: --resume on an empty folder silently started a fresh run."
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', tmp_path/'new', '--resume', '--set', *TINY), 'no checkpoint')
    assert not (tmp_path/'new').exists()


def test_resume_continues_and_overwrite_replaces_only_motlib_files(run, data, tmp_path):
    r = copy_run(run, tmp_path)
    (r/'notes.txt').write_text('my notes')
    assert cli(train_main, 'fairmot', '--data', data, '--out', r, '--resume', '--set', *TINY[1:], 'max_steps=3')[0] == 0
    from motlib.checkpoint import load_checkpoint
    assert load_checkpoint(r/'last.pt')['step'] == 3
    assert cli(train_main, 'fairmot', '--data', data, '--out', r, '--overwrite', '--set', *TINY, 'reid_dim=64')[0] == 0
    assert load_checkpoint(r/'last.pt')['step'] == 2 and json.loads((r/'model.json').read_text())['model']['reid_dim'] == 64
    assert (r/'notes.txt').read_text() == 'my notes'


# defect 5 ------------------------------------------------------------------------------------------------------------
def test_failed_track_leaves_earlier_outputs_byte_identical(run, data, tmp_path, monkeypatch):
    "Old code: TrackVideoWriter's finally renamed the partial video into place."
    out = tmp_path/'trk'
    assert cli(track_main, run, data/'val', '--out', out)[0] == 0
    before = snapshot(out)
    assert any(n.endswith(('.mp4', '.avi')) for n in before) and any(n.endswith('.txt') for n in before)
    from motlib import pipeline
    real, calls = pipeline.ModelDetector.__call__, []
    def fails_at_frame_4(self, image, frame=None):
        calls.append(frame)
        if len(calls) == 4: raise RuntimeError('detector failed')
        return real(self, image, frame)
    monkeypatch.setattr(pipeline.ModelDetector, '__call__', fails_at_frame_4)
    with pytest.raises(RuntimeError, match='detector failed'): track_main([str(run), str(data/'val'), '--out', str(out)])
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)   # no temp files either


def test_interrupted_track_leaves_earlier_outputs(run, data, tmp_path, monkeypatch):
    out = tmp_path/'trk'
    assert cli(track_main, run, data/'val', '--out', out, '--no-video')[0] == 0
    before = snapshot(out)
    from motlib import pipeline
    def interrupt(self, image, frame=None): raise KeyboardInterrupt
    monkeypatch.setattr(pipeline.ModelDetector, '__call__', interrupt)
    code, err = cli(track_main, run, data/'val', '--out', out)
    assert code == 130 and 'interrupted' in err
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)


# defect 7 ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('bad', ['max_steps=abc', 'grad_clip=abc', 'input_size=foo', 'lr=-1', 'batch_size=0', 'device=gpu0'])
def test_bad_set_values_are_one_line_config_errors(bad, data, tmp_path):
    "Old code: tracebacks (TypeError: '<' not supported between 'str' and 'int', ...)."
    code, err = cli(train_main, 'fairmot', '--data', data, '--out', tmp_path/'r', '--set', *TINY, bad)
    one_line_error(code, err, bad.split('=')[0])
    assert not (tmp_path/'r').exists()


def test_out_is_a_file_is_an_error(data, tmp_path):
    f = tmp_path/'file.txt'
    f.write_text('x')
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', f, '--set', *TINY), 'not a folder')
    assert f.read_text() == 'x'


def test_track_out_is_a_file_is_an_error(run, data, tmp_path):
    f = tmp_path/'file.txt'
    f.write_text('x')
    one_line_error(*cli(track_main, run, data/'val', '--out', f), 'not a folder')
    assert f.read_text() == 'x'


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without a GPU')
def test_device_cuda_without_gpu_is_an_error(run, data, tmp_path):
    one_line_error(*cli(train_main, 'fairmot', '--data', data, '--out', tmp_path/'r', '--set', *TINY, 'device=cuda'), 'no CUDA GPU')
    assert not (tmp_path/'r').exists()
    one_line_error(*cli(track_main, run, data/'val', '--out', tmp_path/'t', '--device', 'cuda'), 'no CUDA GPU')


def test_broken_or_mismatched_model_json_is_one_line(run, data, tmp_path):
    r = copy_run(run, tmp_path)
    meta = json.loads((r/'model.json').read_text())
    (r/'model.json').write_text(json.dumps(dict(meta, model=dict(meta['model'], reid_dim=64))))
    one_line_error(*cli(track_main, r, data/'val', '--no-video', '--out', tmp_path/'t'), 'weights do not fit the model', 'model.json')
    (r/'model.json').write_text('{"method": "fairmot", "model": {')
    one_line_error(*cli(track_main, r, data/'val', '--no-video', '--out', tmp_path/'t'), 'model.json: not valid JSON')
    (r/'model.json').write_text('[1, 2]')
    one_line_error(*cli(track_main, r, data/'val', '--no-video', '--out', tmp_path/'t'), 'model.json')
    (r/'model.json').write_text(json.dumps(dict(meta, model=dict(meta['model'], no_such_field=1))))
    one_line_error(*cli(track_main, r, data/'val', '--no-video', '--out', tmp_path/'t'), 'no_such_field')


# defect 9 ------------------------------------------------------------------------------------------------------------
def test_same_seed_same_loss_curve(data, tmp_path):
    "Old code: the model was built before the seed was set, so two runs in one process differed from the first step."
    from motlib.pipeline import train_method
    torch.manual_seed(123)
    a = train_method('fairmot', 'quick', data, tmp_path/'a', TINY + ['max_steps=3', 'log_every=1'])
    torch.rand(10)                                                   # whatever ran in between must not matter
    b = train_method('fairmot', 'quick', data, tmp_path/'b', TINY + ['max_steps=3', 'log_every=1'])
    la, lb = (Path(r['log']).read_text().splitlines() for r in (a, b))
    strip = lambda rows: [r.rsplit(',', 1)[0] for r in rows]         # the last column is the wall time
    assert len(la) == 4 and strip(la) == strip(lb)


# defect 10 -----------------------------------------------------------------------------------------------------------
def test_training_without_identities_is_an_error(data, tmp_path):
    "Old code: exit 0 with num_ids=0."
    root = tmp_path/'noids'
    shutil.copytree(data/'train', root/'train')
    for gt in (root/'train').glob('*/gt/gt.txt'):
        rows = np.loadtxt(gt, delimiter=',', ndmin=2)
        rows[:, 1] = -1
        np.savetxt(gt, rows, delimiter=',', fmt='%g')
    one_line_error(*cli(train_main, 'fairmot', '--data', root, '--out', tmp_path/'r', '--set', *TINY), 'no ground-truth identities')
    assert not (tmp_path/'r').exists()
    with pytest.warns(UserWarning, match='detector only'):
        from motlib.pipeline import train_method
        train_method('fairmot', 'quick', root, tmp_path/'r2', TINY, allow_no_ids=True)


def test_ctrl_c_during_epoch_end_save_still_saves(tmp_path, monkeypatch):
    "Old code: the save was marked done before it was written, so a Ctrl-C inside it left no checkpoint."
    from toys import ToyBoxes, ToyDetector
    from motlib import train as T
    real, hits = T.save_checkpoint, []
    def save_with_ctrl_c(state, path):
        if not hits:
            hits.append(1)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return real(state, path)
    monkeypatch.setattr(T, 'save_checkpoint', save_with_ctrl_c)
    cfg = T.TrainConfig(epochs=3, batch_size=8, lr=1e-2, lr_steps=(), progress=False, device='cpu', out_dir=str(tmp_path/'r'))
    old = signal.signal(signal.SIGINT, signal.default_int_handler)    # Python's own Ctrl-C, whatever an earlier test left
    try:
        with pytest.raises(KeyboardInterrupt): T.Trainer(ToyDetector(), ToyBoxes(32), cfg).fit()
    finally: signal.signal(signal.SIGINT, old)
    from motlib.checkpoint import load_checkpoint
    assert load_checkpoint(tmp_path/'r'/'last.pt')['step'] == 4       # the end of epoch 1, complete


def test_stale_temp_files_of_a_killed_run_are_cleaned(run, data, tmp_path):
    r = copy_run(run, tmp_path)
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True).stdout.strip()
    stale = r/f".last.pt.{dead}.0badc0de.tmp"
    stale.write_bytes(b'half a checkpoint')
    assert cli(train_main, 'fairmot', '--data', data, '--out', r, '--resume', '--set', *TINY[1:], 'max_steps=3')[0] == 0
    assert not stale.exists()


def test_build_tracker_keeps_the_callers_overrides():
    from motlib.pipeline import build_tracker
    over = {'det_thresh': '0.3'}
    assert build_tracker('jde', 25, 'fairmot', over).cfg.det_thresh == 0.3
    assert over == {'det_thresh': '0.3'}
    lst = ['det_thresh=0.3']
    assert build_tracker('jde', 25, None, lst).cfg.det_thresh == 0.3 and lst == ['det_thresh=0.3']


def test_track_takes_preset_and_set(run, data, tmp_path):
    "The README says every command takes --preset/--set; motlib-track did not."
    out = tmp_path/'t'
    assert cli(track_main, run, data/'val', '--out', out, '--no-video', '--preset', 'fairmot', '--set', 'det_thresh=0.3')[0] == 0
    one_line_error(*cli(track_main, run, data/'val', '--out', tmp_path/'u', '--set', 'det_thresh=5'), 'det_thresh')
    one_line_error(*cli(track_main, run, data/'val', '--out', tmp_path/'u', '--preset', 'nope'), "unknown preset 'nope'")
    assert not (tmp_path/'u').exists()


def test_a_run_keeps_only_what_a_user_needs(run):
    "Old code: the quick preset kept 20 epoch checkpoints of 25 MB."
    assert sorted(p.name for p in run.iterdir()) == ['last.pt', 'log.csv', 'model.json', 'model.pt']
    from motlib.pipeline import method_configs
    assert method_configs('fairmot', 'quick')[1].save_every == 0


# no command deletes a file it did not write --------------------------------------------------------------------------
def test_no_command_deletes_a_file_it_did_not_write(run, data, tmp_path):
    notes = {'notes.txt': b'mine', 'sub/data.csv': b'1,2,3', 'epoch_notes.md': b'keep'}
    def plant(folder):
        for k, v in notes.items():
            (folder/k).parent.mkdir(parents=True, exist_ok=True)
            (folder/k).write_bytes(v)
    def intact(folder): return all((folder/k).read_bytes() == v for k, v in notes.items())
    r = tmp_path/'r'
    r.mkdir()
    plant(r)
    assert cli(train_main, 'fairmot', '--data', data, '--out', r, '--set', *TINY)[0] == 0 and intact(r)
    assert cli(train_main, 'fairmot', '--data', data, '--out', r, '--overwrite', '--set', *TINY)[0] == 0 and intact(r)
    t = tmp_path/'t'
    t.mkdir()
    plant(t)
    assert cli(track_main, run, data/'val', '--out', t)[0] == 0 and intact(t)
    assert cli(track_main, run, data/'val', '--out', t, '--no-video')[0] == 0 and intact(t)


def test_written_files_follow_the_umask(run, data, tmp_path):
    from motlib.core import file_mode
    t = tmp_path/'t'
    assert cli(track_main, run, data/'val', '--out', t)[0] == 0
    for p in [*t.iterdir(), *run.iterdir()]: assert p.stat().st_mode & 0o777 == file_mode(), p

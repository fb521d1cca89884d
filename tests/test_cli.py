"End-to-end checks of the console scripts, run as a user would run them (subprocesses of the installed entry points)."
import shutil, subprocess, sys
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent


def run(*args, check=True):
    p = subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0: raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth')
    run('motlib-synth', root, '--preset', 'tiny', '--splits', 'val', '--no-reid')
    return root


def test_ground_truth_scores_perfectly(synth, tmp_path):
    "Ground truth submitted as results: MOTA = IDF1 = HOTA = 1 through the console script."
    res = tmp_path/'res'; res.mkdir()
    for seq in (synth/'val').iterdir(): shutil.copy(seq/'gt'/'gt.txt', res/f"{seq.name}.txt")
    p = run('motlib-eval', synth/'val', res, '--out', tmp_path/'tables')
    import pandas as pd
    df = pd.read_csv(tmp_path/'tables'/'metrics.csv', index_col=0)
    for m in ('MOTA', 'IDF1', 'HOTA'): assert df.loc['OVERALL', m] == pytest.approx(1.0), m
    assert (tmp_path/'tables'/'metrics.md').exists() and 'OVERALL' in p.stdout


def test_bad_input_is_one_clear_line(synth, tmp_path):
    p = run('motlib-eval', synth/'val', tmp_path/'missing', check=False)
    assert p.returncode == 2 and 'error' in p.stderr and 'Traceback' not in p.stderr
    p = run('motlib-synth', tmp_path/'x', '--set', 'no_such_field=1', check=False)
    assert p.returncode == 2 and "no_such_field" in p.stderr and 'Traceback' not in p.stderr


def test_train_and_track_bad_input_through_the_console_scripts(tmp_path):
    "Issue 7, defects 2 and 7, as a user runs them: exit 2, one line, no traceback, nothing written."
    for args in (['motlib-train', 'fairmot', '--set', 'max_steps=abc'], ['motlib-train', 'fairmot', '--set', 'grad_clip=abc'],
                 ['motlib-train', 'fairmot', '--set', 'input_size=foo'],
                 ['motlib-track', tmp_path/'run'/'epoch_005.pt', tmp_path, '--out', tmp_path/'trk']):
        p = run(*args, check=False)
        assert p.returncode == 2 and 'Traceback' not in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    assert not (tmp_path/'trk').exists()

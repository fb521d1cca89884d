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

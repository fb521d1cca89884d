"""Files motlib writes: normal permissions under the umask, atomic replacement, leftovers of killed writers cleaned.

issue 7, defect 4: results, metrics tables and SynthMOT files came out 0600 (folders 0700) whatever the umask, because
the atomic writers renamed `mkstemp`/`mkdtemp` files into place. They must get what `open(path, 'w')` / `mkdir` give.
"""
import os, stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from motlib.core import (atomic_path, atomic_write, atomic_write_bytes, atomic_write_text, clean_stale_temps,
                         current_umask, dir_mode, file_mode)


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _modes(root: Path):
    "{relative path: permission bits} of everything under root (root excluded)."
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in root.rglob('*')}


def test_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask and current_umask() == umask
    assert (file_mode(), dir_mode()) == (0o666 & ~umask, 0o777 & ~umask)


def test_results_and_tables_follow_the_umask(tmp_path, umask):
    from motlib.core import Tracks
    from motlib.data.mot import write_mot_txt, write_results, write_seqinfo, SeqInfo
    from motlib.eval import save_tables
    write_mot_txt(tmp_path/'gt'/'gt.txt', np.ones((2, 9)))
    write_results(tmp_path/'res'/'seq.txt', [(1, Tracks([1], [[0, 0, 10, 20]]))])
    write_seqinfo(tmp_path/'seqinfo.ini', SeqInfo('seq', 30, 1, 64, 64))
    save_tables(pd.DataFrame({'MOTA': [0.5]}, index=['OVERALL']), tmp_path/'tables')
    atomic_write_bytes(tmp_path/'blob.bin', b'\x00\x01')
    modes = _modes(tmp_path)
    files = {k: v for k, v in modes.items() if (tmp_path/k).is_file()}
    assert set(files) == {'gt/gt.txt', 'res/seq.txt', 'seqinfo.ini', 'tables/metrics.csv', 'tables/metrics.md', 'blob.bin'}
    assert set(files.values()) == {0o666 & ~umask}, files
    assert {v for k, v in modes.items() if (tmp_path/k).is_dir()} == {0o777 & ~umask}


def test_synth_files_and_folders_follow_the_umask(tmp_path, umask):
    from motlib.data.synth import generate
    generate(tmp_path, 'tiny', splits=('val',), overrides={'frames': 3, 'seqs_val': 1, 'reid_train_ids': 2,
                                                            'reid_test_ids': 2, 'reid_per_id': 2})
    modes = _modes(tmp_path)
    files = {k: v for k, v in modes.items() if (tmp_path/k).is_file()}
    dirs = {k: v for k, v in modes.items() if (tmp_path/k).is_dir()}
    assert {'val/SynthMOT-tiny-val-01/gt/gt.txt', 'val/SynthMOT-tiny-val-01/seqinfo.ini', 'reid/synth.json'} <= set(files)
    assert set(files.values()) == {0o666 & ~umask}, {k: oct(v) for k, v in files.items() if v != 0o666 & ~umask}
    assert {'val/SynthMOT-tiny-val-01', 'reid', 'reid/query'} <= set(dirs)
    assert set(dirs.values()) == {0o777 & ~umask}, {k: oct(v) for k, v in dirs.items()}


def test_a_failed_write_leaves_the_old_file(tmp_path):
    p = atomic_write_text(tmp_path/'results.txt', 'good\n')
    with pytest.raises(ZeroDivisionError):
        with atomic_write(p) as f:
            f.write('half of a new file')
            1 / 0
    assert p.read_text() == 'good\n' and sorted(x.name for x in tmp_path.iterdir()) == ['results.txt']
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path/'video.mp4', suffix='.mp4') as t:
            t.write_bytes(b'partial')
            raise KeyboardInterrupt
    assert sorted(x.name for x in tmp_path.iterdir()) == ['results.txt']
    (tmp_path/'seq').mkdir(); (tmp_path/'seq'/'old.txt').write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path/'seq', folder=True) as t:
            (t/'new.txt').write_text('new')
            raise RuntimeError('killed')
    assert [x.name for x in (tmp_path/'seq').iterdir()] == ['old.txt']
    with atomic_path(tmp_path/'seq', folder=True) as t: (t/'new.txt').write_text('new')
    assert [x.name for x in (tmp_path/'seq').iterdir()] == ['new.txt']
    assert sorted(x.name for x in tmp_path.iterdir()) == ['results.txt', 'seq']


def test_leftovers_of_dead_writers_are_cleaned(tmp_path):
    "issue 7.10: temporary files left by SIGKILL / ENOSPC are removed by the next write of the same file."
    target = tmp_path/'metrics.csv'
    dead = [tmp_path/'.metrics.csv.999999999.deadbeef.tmp', tmp_path/'.metrics.csv.999999998.0a0b0c0d.tmp.mp4']
    for p in dead: p.write_text('left behind')
    (tmp_path/'.metrics.csv.999999997.00000000.tmp').mkdir()
    mine = tmp_path/f'.metrics.csv.{os.getpid()}.12345678.tmp'; mine.write_text('a live writer')
    other = tmp_path/'.other.csv.999999999.deadbeef.tmp'; other.write_text('another file')
    user = tmp_path/'.metrics.csv.notes'; user.write_text('not ours')
    atomic_write_text(target, 'x')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(['metrics.csv', mine.name, other.name, user.name])
    assert clean_stale_temps(tmp_path/'other.csv') == [other]


def test_a_real_kill_leaves_a_temp_that_the_next_run_removes(tmp_path):
    "A writer killed with SIGKILL mid-write: the old file is intact, and the next write removes the leftover."
    import signal, subprocess, sys, time
    target = tmp_path/'results.txt'
    target.write_text('old results\n')
    code = ("import sys, time; from motlib.core import atomic_write\n"
            "with atomic_write(sys.argv[1]) as f:\n"
            "    f.write('partial'); f.flush(); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, '-c', code, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'writing'
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None: proc.kill()
    left = [p for p in tmp_path.iterdir() if p.name.startswith('.results.txt.')]
    assert len(left) == 1 and target.read_text() == 'old results\n'
    atomic_write_text(target, 'new results\n')
    assert [p.name for p in tmp_path.iterdir()] == ['results.txt'] and target.read_text() == 'new results\n'

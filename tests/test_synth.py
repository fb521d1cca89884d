"End-to-end checks of motlib.data.synth: layout, skipping complete sequences, regeneration, determinism across processes."
import hashlib, json, os, re, subprocess, sys
import pytest
from motlib.core import ConfigError, MotlibError
from motlib.data.mot import list_sequences
from motlib.data.synth import generate, generate_reid, SPLITS

SMALL = {'frames': 12, 'reid_train_ids': 4, 'reid_test_ids': 3, 'reid_per_id': 3}


def _md5(p): return hashlib.md5(p.read_bytes()).hexdigest()


def test_layout_skip_and_regenerate(tmp_path):
    paths = generate(tmp_path, 'tiny', overrides=SMALL)
    assert sorted(paths) == sorted(SPLITS)
    for split in SPLITS:
        seqs = list_sequences(tmp_path/split)
        assert [s.path for s in seqs] == paths[split]
        for s in seqs:
            assert len(s) == 12 and len(list((s.path/'img1').glob('*.jpg'))) == 12
            assert s.gt[:, 1].min() == 1 and ((s.gt[:, 8] >= 0) & (s.gt[:, 8] <= 1)).all()
            assert json.loads((s.path/'synth.json').read_text())['split'] == split
    names = {k: sorted(p.name for p in (tmp_path/'reid'/k).glob('*.jpg')) for k in ('train', 'query', 'gallery')}
    assert [len(v) for v in names.values()] == [12, 3, 6]
    assert all(re.fullmatch(r'\d{4}_c\d+s1_\d{6}_00\.jpg', n) for v in names.values() for n in v)
    assert not (tmp_path/'.synth-tmp').exists()

    gt = paths['val'][0]/'gt'/'gt.txt'; stamp = os.stat(gt).st_mtime_ns
    generate(tmp_path, 'tiny', overrides=SMALL)                       # complete: nothing is rewritten
    assert os.stat(gt).st_mtime_ns == stamp
    generate(tmp_path, 'tiny', splits=('val',), overrides={**SMALL, 'frames': 8}, reid=False)   # new config: rewritten
    assert len(list_sequences(tmp_path/'val')[0]) == 8
    generate(tmp_path, 'tiny', splits=('val',), overrides={**SMALL, 'frames': 8}, reid=False, overwrite=True)
    assert os.stat(gt).st_mtime_ns != stamp


def test_foreign_folder_is_not_replaced(tmp_path):
    d = tmp_path/'val'/'SynthMOT-tiny-val-01'; d.mkdir(parents=True); (d/'mine.txt').write_text('keep me')
    with pytest.raises(MotlibError, match='not a SynthMOT sequence'):
        generate(tmp_path, 'tiny', splits=('val',), overrides=SMALL, reid=False)
    assert (d/'mine.txt').read_text() == 'keep me'


def test_deterministic_across_processes(tmp_path):
    a, b = tmp_path/'a', tmp_path/'b'
    generate(a, 'tiny', splits=('test',), overrides=SMALL, reid=False, seed=3)
    code = ("from motlib.data.synth import generate; import sys; "
            f"generate(sys.argv[1], 'tiny', splits=('test',), overrides={SMALL!r}, reid=False, seed=3)")
    subprocess.run([sys.executable, '-c', code, str(b)], check=True)
    seq = 'test/SynthMOT-tiny-test-01'
    for f in ('gt/gt.txt', 'det/det.txt', 'img1/000007.jpg', 'seqinfo.ini'):
        assert _md5(a/seq/f) == _md5(b/seq/f), f


def test_bad_requests(tmp_path):
    with pytest.raises(ConfigError, match='unknown split'): generate(tmp_path, 'tiny', splits=('dev',), reid=False)
    with pytest.raises(ConfigError, match='unknown preset'): generate(tmp_path, 'huge')
    with pytest.raises(ConfigError, match="no field 'frame'"): generate(tmp_path, 'tiny', overrides=['frame=3'])
    with pytest.raises(ConfigError, match='reid_cams'): generate_reid(tmp_path, 'tiny', overrides={**SMALL, 'reid_cams': 1})

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


def test_user_reid_folder_is_not_deleted(tmp_path):
    "issue 7.1: ROOT/reid holding a user's file (no synth.json) is an error naming it, unless overwrite."
    notes = tmp_path/'reid'/'notes.txt'; notes.parent.mkdir(); notes.write_text('keep me')
    small = {**SMALL, 'frames': 4, 'seqs_train': 1, 'seqs_val': 1, 'seqs_test': 1}
    with pytest.raises(MotlibError, match=r'reid.*not a SynthMOT re-ID pool'):
        generate(tmp_path, 'tiny', overrides=small)
    assert notes.read_text() == 'keep me'
    assert not (tmp_path/'train').exists()                          # checked before any sequence is written
    generate(tmp_path, 'tiny', overrides=small, overwrite=True)    # the user asked for it
    assert not notes.exists() and (tmp_path/'reid'/'synth.json').exists()


def test_user_file_in_synth_folders_blocks_replacement(tmp_path):
    "issue 7.1: a SynthMOT folder holding a user-added file is not replaced when the config changes."
    paths = generate(tmp_path, 'tiny', splits=('val',), overrides=SMALL)
    seq = paths['val'][0]
    (seq/'notes.txt').write_text('mine'); (tmp_path/'reid'/'query'/'README').write_text('mine too')
    generate(tmp_path, 'tiny', splits=('val',), overrides=SMALL)   # unchanged config: nothing to replace, no error
    with pytest.raises(MotlibError, match=r'SynthMOT-tiny-val-01: holds files SynthMOT did not write \(notes\.txt\)'):
        generate(tmp_path, 'tiny', splits=('val',), overrides={**SMALL, 'frames': 8}, reid=False)
    assert (seq/'notes.txt').read_text() == 'mine' and len(list_sequences(tmp_path/'val')[0]) == 12
    with pytest.raises(MotlibError, match=r'reid: holds files SynthMOT did not write \(query/README\)'):
        generate_reid(tmp_path, 'tiny', overrides={**SMALL, 'reid_per_id': 4})
    assert (tmp_path/'reid'/'query'/'README').exists()
    generate(tmp_path, 'tiny', splits=('val',), overrides={**SMALL, 'frames': 8}, reid=False, overwrite=True)
    assert not (seq/'notes.txt').exists() and len(list_sequences(tmp_path/'val')[0]) == 8


def test_leftover_staging_is_cleaned(tmp_path):
    "issue 7.10: staging folders of a killed run (old .synth-tmp, or dead-pid siblings) are removed on the next run."
    old = tmp_path/'.synth-tmp'/'SynthMOT-tiny-val-01.k2j4_x9q'; old.mkdir(parents=True); (old/'seqinfo.ini').write_text('x')
    dead = tmp_path/'val'/'.SynthMOT-tiny-val-01.999999999.0badf00d.tmp'; (dead/'img1').mkdir(parents=True)
    (dead/'seqinfo.ini').write_text('[Sequence]\n')
    generate(tmp_path, 'tiny', splits=('val',), overrides=SMALL, reid=False)
    assert not (tmp_path/'.synth-tmp').exists() and not dead.exists()
    assert all(not p.name.startswith('.') for p in (tmp_path/'val').iterdir())


def test_bad_synth_values_are_config_errors(tmp_path):
    "issue 7.7: motlib-synth --set fps=0, frames=0, width=0, people_min>people_max, det_fp=-1 are one-line config errors."
    for bad, field in [('fps=0', 'fps'), ('frames=0', 'frames'), ('width=0', 'width'), ('det_fp=-1', 'det_fp'),
                       ('people_min=30', 'people_max'), ('reid_size=foo', 'reid_size'), ('frames=abc', 'frames'),
                       ('horizon=0.53 far_height=0.49', 'no ground'), ('jitter=1e4', 'jitter'), ('hfov=180', 'hfov')]:
        with pytest.raises(ConfigError, match=field):
            generate(tmp_path, 'tiny', overrides=bad.split())
    assert not any(tmp_path.iterdir())

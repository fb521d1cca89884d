"""Public-detection tracking (issue 12): MOTChallenge and TUD-style layouts, `motlib-track public`, scored unchanged by
`motlib-eval`, and the peers benchmark without BoxMOT installed."""
import shutil
from pathlib import Path
import numpy as np
import pytest
from motlib.core import ConfigError, MotlibError


def _tud(tmp_path, name='TUD-Campus', drop=0.0):
    "A TUD-style folder (gt.txt and det.txt at the top, no seqinfo.ini, no images) from motmetrics' TUD data."
    import motmetrics
    src = Path(motmetrics.__file__).parent/'data'/name
    d = tmp_path/'tud'/name
    d.mkdir(parents=True)
    shutil.copy(src/'gt.txt', d/'gt.txt')
    g = np.loadtxt(src/'gt.txt', delimiter=',')
    g = g[np.random.default_rng(0).random(len(g)) >= drop]
    rows = np.c_[g[:, 0], -np.ones(len(g)), g[:, 2:6], np.full(len(g), 0.9), -np.ones((len(g), 3))]
    np.savetxt(d/'det.txt', rows, fmt='%g', delimiter=',')
    return d


def test_tud_layout_reads_and_tracks(tmp_path):
    from motlib.track.public import public_sequences, track_public
    d = _tud(tmp_path)
    for root in (d.parent, d):
        seqs = public_sequences(root)
        assert [s.name for s in seqs] == ['TUD-Campus'] and seqs[0].frame_rate is None and seqs[0].img_dir is None
    res, ms = track_public(seqs[0], 'sort')
    assert len(res) == len(seqs[0]) and ms >= 0 and sum(len(t) for _, t in res) > 0
    with pytest.raises(MotlibError, match='no public detections'):
        from motlib.track.public import PublicSequence
        (tmp_path/'empty').mkdir()
        PublicSequence.read(tmp_path/'empty')


def test_cli_public_on_tud_then_motlib_eval(tmp_path, capsys):
    from motlib.cli import track_main
    from motlib.eval import eval_main
    d = _tud(tmp_path)
    assert track_main(['public', str(d.parent), '--out', str(tmp_path/'out')]) == 2      # no images: a video is impossible
    assert 'pass --no-video' in capsys.readouterr().err and not (tmp_path/'out').exists()
    assert track_main(['public', str(d.parent), '--out', str(tmp_path/'out'), '--no-video', '--tracker', 'byte:mot20',
                       '--tracker-set', 'track_buffer=10', '--interpolate', '3']) == 0
    assert (tmp_path/'out'/'TUD-Campus.txt').is_file()
    assert eval_main([str(d.parent), str(tmp_path/'out')]) == 0
    assert 'TUD-Campus' in capsys.readouterr().out
    assert track_main(['public', str(d), '--out', str(tmp_path/'o2'), '--no-video', '--tracker-set', 'nope=1']) == 2
    assert 'nope' in capsys.readouterr().err and not (tmp_path/'o2').exists()


def test_cli_public_on_synthmot_with_video(tmp_path):
    from motlib.cli import track_main
    from motlib.data.synth import generate
    from motlib.data.mot import read_mot_txt
    generate(tmp_path/'s', 'tiny', ('val',), 0, ['frames=12', 'seqs_val=2'], reid=False)
    assert track_main(['public', str(tmp_path/'s'/'val'), '--out', str(tmp_path/'out'), '--tracker', 'sort']) == 0
    names = sorted(p.name for p in (tmp_path/'s'/'val').iterdir())
    for n in names:
        assert (tmp_path/'out'/f"{n}.txt").is_file() and (tmp_path/'out'/f"{n}.mp4").is_file()
    one = tmp_path/'s'/'val'/names[0]
    assert track_main(['public', str(one), '--out', str(tmp_path/'one'), '--no-video']) == 0
    assert len(read_mot_txt(tmp_path/'one'/f"{names[0]}.txt")) > 0


def test_bench_public_without_boxmot(tmp_path, monkeypatch):
    from motlib.track import public
    d = _tud(tmp_path, 'TUD-Stadtmitte', drop=0.2)
    monkeypatch.setattr(public, 'boxmot_version', lambda: None)
    df = public.bench_public(d.parent, ('sort', 'byte', 'byte:no_byte'))
    assert list(df.tracker) == ['sort', 'byte', 'byte:no_byte'] and (df.frames == df.frames[0]).all()
    assert df.set_index('tracker').loc['byte', 'IDF1'] > df.set_index('tracker').loc['sort', 'IDF1']
    text = public.public_bench_report(df, d.parent, 'test')
    assert 'boxmot: not installed' in text and '| byte |' in text
    with pytest.raises(ConfigError, match='unknown peer'):
        public.bench_public(d.parent, ('sort',), ('boxmot_nope',))


def test_bench_cli_peers_errors(tmp_path, capsys):
    from motlib.cli import bench_main
    assert bench_main(['association', '--peers', '--root', str(tmp_path/'missing'), '--report', '']) == 2
    assert 'motlib-synth' in capsys.readouterr().err

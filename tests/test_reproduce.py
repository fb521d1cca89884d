"Reproduction protocol (notebook 14): verdicts, mean ± std, tables as data, caching, re-track rows, resume, reports."
import json, math, os
from pathlib import Path
import numpy as np
import pytest
import torch
import motlib.reproduce as R
from motlib.core import ConfigError, MotlibError
from motlib.reproduce import (Claim, Row, Table, check_table, TABLES, REPRO_PRESETS, COLUMNS, verdict, mean_std,
                              fmt_stat, derive_claims, preset_rows, row_plan, train_key, reproduce, reproduce_main,
                              report_path, imagenet_trunk)

torch.set_num_threads(1)


# ---------------------------------------------------------------- verdicts and formatting (hand-made numbers)
@pytest.mark.parametrize('a, b, rel, higher, want', [
    ((70, 1, 3), (60, 1, 3), '>', True, 'agrees'),
    ((60, 1, 3), (70, 1, 3), '>', True, 'disagrees'),
    ((70, 5, 3), (66, 5, 3), '>', True, 'within noise'),           # |4| <= sqrt(50)
    ((66, 5, 3), (70, 5, 3), '>', True, 'within noise'),           # either way round
    ((120, 5, 3), (160, 5, 3), '>', False, 'agrees'),              # IDs: lower is better
    ((160, 5, 3), (120, 5, 3), '>', False, 'disagrees'),
    ((40.4, 0.3, 3), (40.2, 0.4, 3), '=', True, 'agrees'),         # claimed tie, ours within noise
    ((45.0, 0.3, 3), (40.2, 0.4, 3), '=', True, 'disagrees'),      # claimed tie, ours resolves a difference
    ((0, 0, 3), (0, 0, 3), '>', True, 'within noise'),             # identical results rank nothing
    ((71, 1, 3), (np.nan, np.nan, 0), '>', True, 'not measured'),
])
def test_verdict(a, b, rel, higher, want):
    assert verdict(a, b, rel, higher)['verdict'] == want


def test_verdict_rule_boundary():
    # the rule is |mean_a - mean_b| <= sqrt(std_a^2 + std_b^2): 3-4-5 triangle, difference exactly 5 is still noise
    assert verdict((15, 3, 3), (10, 4, 3))['verdict'] == 'within noise'
    assert verdict((15.01, 3, 3), (10, 4, 3))['verdict'] == 'agrees'
    v = verdict((71, np.nan, 1), (70, np.nan, 1))
    assert v['verdict'] == 'agrees' and v['one_seed']                # one seed: sign only, flagged


def test_mean_std_and_format():
    assert mean_std([70.0, 72.0, 74.0]) == (72.0, 2.0, 3)             # sample std (ddof=1)
    assert mean_std([5.0, None, float('nan')])[::2] == (5.0, 1)
    assert fmt_stat(*mean_std([70.0, 72.0, 74.0])) == '72.0 ± 2.0'
    assert fmt_stat(*mean_std([120, 131, 140]), decimals=0) == '130 ± 10'
    assert fmt_stat(41.25, float('nan'), 1) == '41.2'
    assert fmt_stat(*mean_std([])) == '-'


def test_derive_claims_chain_and_tolerance():
    paper = {'A': dict(MOTA=40.4, IDs=136), 'B': dict(MOTA=40.2, IDs=157), 'C': dict(MOTA=34.0, IDs=320)}
    got = derive_claims(paper, ['C', 'B', 'A'], ['MOTA', 'IDs'], {'MOTA': 0.5})
    assert got == [Claim('A', '=', 'B', 'MOTA'), Claim('B', '>', 'C', 'MOTA'),
                   Claim('A', '>', 'B', 'IDs'), Claim('B', '>', 'C', 'IDs')]
    assert derive_claims(paper, ['A', 'C'], ['MOTA']) == [Claim('A', '>', 'C', 'MOTA')]


# ---------------------------------------------------------------- tables and presets are data
def test_tables_resolve_for_every_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # some rows name trained re-ID runs (SDE, TDT teachers): stand-ins of those folders
    for run in ('osnet-large', 'osnet-small', 'mobilenetv2-ft'): (tmp_path/'runs'/'teachers'/run).mkdir(parents=True)
    for name, t in TABLES.items():
        assert set(t.paper) <= set(t.rows)
        for preset in REPRO_PRESETS:
            for row in preset_rows(name, preset):
                plan = row_plan(name, row, preset)
                key = train_key(plan, 0, 'data/synth')               # model and TrainConfig overrides all valid
                assert not key['imagenet']                            # never torchvision weights by default
    assert row_plan('fairmot_table2', 'DLA-34', 'full')['train']['backbone'] == 'dla34'
    assert row_plan('fairmot_table4', '64', 'quick')['train']['backbone'] == 'mobilenetv2'


def test_report_of_unrun_table(tmp_path):
    t = TABLES['fairmot_table4']
    p = R.write_report(t, {k: [None, None, None] for k in t.rows}, 'quick', tmp_path, 'cmd')
    txt = p.read_text()
    assert p == tmp_path/'fairmot_table4.md' and txt.startswith(R._MARK)
    assert '| 512 | paper | | 40.4 | 52.1 | 210 | 28.7 | 61.5 |' in txt and txt.count('| ours | 0 | - |') == 4
    assert report_path('fairmot_table4', 'full', tmp_path).name == 'fairmot_table4-full.md'


@pytest.mark.parametrize('argv, msg', [(['fairmot_table9'], "unknown table 'fairmot_table9'"),
                                       (['fairmot_table2', '--preset', 'huge'], "unknown preset 'huge'"),
                                       (['fairmot_table4', '--set', 'max_steps'], '--set expects KEY=VALUE'),
                                       (['fairmot_table4', '--set', 'reid_dims=3'], "'reid_dims'"),
                                       (['fairmot_table4', '--set', 'seed=3'], 'seed is set by the protocol'),
                                       (['fairmot_table4', '--seeds', '0'], 'seeds must be an integer >= 1'),
                                       (['fairmot_table4', '--seeds', 'x'], '--seeds must be an integer >= 1'),
                                       (['fairmot_table4', '--data', '/nonexistent/x'], 'no sequences'),
                                       ([], '--list')])
def test_cli_errors(argv, msg, capsys):
    assert reproduce_main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count('\n') == 1 and err.startswith('motlib-reproduce: error:'), err


def test_cli_list(capsys):
    assert reproduce_main(['--list']) == 0
    out = capsys.readouterr().out
    assert 'fairmot_table2' in out and 'fairmot_table4' in out and 'quick: 3 seeds' in out


# ---------------------------------------------------------------- a tiny table end to end
@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    from motlib.data.synth import generate
    root = tmp_path_factory.mktemp('synth')
    generate(root, 'tiny', splits=('train', 'val'), reid=False,
             overrides=dict(frames=12, seqs_train=1, seqs_val=1, width=192, height=128, people_min=3, people_max=5))
    return root

TINY = Table('tiny', 'A tiny check', 'fairmot', ('MOTA', 'IDF1', 'IDs', 'AP', 'TPR'),
             rows={'a': Row(dict(reid_dim=8)), 'b': Row(base='a', tracker='sort')},
             paper={'a': dict(MOTA=50.0), 'b': dict(MOTA=40.0)})
OVER = dict(backbone='mobilenetv2', pretrained=False, input_size=(96, 64), batch_size=2, max_steps=2, head_conv=8)


def _kw(synth, tmp):
    return dict(data=synth, out=tmp/'reports', runs=tmp/'runs', device='cpu', overrides=OVER, log=lambda *a: None)


@pytest.fixture
def counting(monkeypatch):
    "Count the calls of train_method and track_and_score made by the protocol."
    calls = dict(train=0, track=0)
    train, track = R.train_method, R.track_and_score
    def tr(*a, **k):
        calls['train'] += 1
        return train(*a, **k)
    def tk(*a, **k):
        calls['track'] += 1
        return track(*a, **k)
    monkeypatch.setattr(R, 'train_method', tr)
    monkeypatch.setattr(R, 'track_and_score', tk)
    no_weights = lambda *a, **k: pytest.fail('torchvision weights asked for')
    monkeypatch.setattr('motlib.checkpoint._torchvision_state', no_weights)
    return calls


def test_table_end_to_end_retrack_and_resume(synth, tmp_path, counting):
    res, path = reproduce(TINY, 'quick', seeds=2, **_kw(synth, tmp_path))
    # 2 rows x 2 seeds = 4 cells, but only 2 trainings: the re-track row reuses its base's run folder
    assert counting == dict(train=2, track=4)
    assert len(list((tmp_path/'runs'/'train').iterdir())) == 2
    assert [c['train_dir'] for c in res['b']] == [c['train_dir'] for c in res['a']]
    assert [c['trained_now'] for c in res['a']] == [True, True]
    assert [c['trained_now'] for c in res['b']] == [False, False]
    assert res['a'][0]['train_dir'] != res['a'][1]['train_dir']                      # one model per seed
    assert json.loads((Path(res['a'][1]['train_dir'])/'train.json').read_text())['key']['seed'] == 1
    txt = path.read_text()
    assert '| a | ours | 2 |' in txt and '| b | ours | 2 |' in txt and '| a | paper | | 50.0 |' in txt
    assert 'sqrt(std_a^2 + std_b^2)' in txt and 'Summary:' in txt and 'torch threads' in txt and 'motlib ' in txt
    raw = json.loads((tmp_path/'runs'/'tiny-quick.json').read_text())
    assert len(raw['rows']['a']) == 2 and set(raw['rows']['a'][0]['scores']) >= set(TINY.columns)
    # rerun: every cell reused, nothing trained or tracked
    res2, path2 = reproduce(TINY, 'quick', seeds=2, **_kw(synth, tmp_path))
    assert counting == dict(train=2, track=4) and all(c['reused'] for cs in res2.values() for c in cs)
    assert '(2 trained by this invocation)' in txt and '(0 trained by this invocation)' in path2.read_text()
    assert [c['scores'] for c in res2['a']] == [c['scores'] for c in res['a']]
    # one more seed: only the new seed trains (once) and tracks (twice)
    res3, _ = reproduce(TINY, 'quick', seeds=3, **_kw(synth, tmp_path))
    assert counting == dict(train=3, track=6) and [c['reused'] for c in res3['a']] == [True, True, False]


def test_interrupted_table_resumes(synth, tmp_path, counting, monkeypatch):
    real, n = R.run_cell, dict(k=0)
    def flaky(*a, **k):
        n['k'] += 1
        if n['k'] == 3: raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(R, 'run_cell', flaky)
    with pytest.raises(KeyboardInterrupt):
        reproduce(TINY, 'quick', seeds=2, **_kw(synth, tmp_path))
    assert counting['train'] == 1 and (tmp_path/'reports'/'tiny.md').is_file()     # the report of the finished cells
    monkeypatch.setattr(R, 'run_cell', real)
    res, _ = reproduce(TINY, 'quick', seeds=2, **_kw(synth, tmp_path))
    assert [c['reused'] for c in res['a']] == [True, False] and [c['reused'] for c in res['b']] == [True, False]
    assert counting['train'] == 2


def test_interrupted_training_resumes(synth, tmp_path, monkeypatch):
    "A training interrupted after its first step continues from its last.pt on the rerun (the engine's resume)."
    real = R.train_method
    class Stop:
        def on_step_end(self, trainer, logs): raise KeyboardInterrupt
    monkeypatch.setattr(R, 'train_method', lambda *a, **k: real(*a, **k, callbacks=[Stop()]))
    plan = row_plan(TINY, 'a', 'quick', OVER)
    with pytest.raises(KeyboardInterrupt):
        R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)
    folder = next((tmp_path/'runs'/'train').iterdir())
    assert (folder/'last.pt').is_file() and not (folder/'train.json').exists()
    monkeypatch.setattr(R, 'train_method', real)
    tr = R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)
    assert tr['resumed'] and tr['steps'] == 2 and tr['dir'] == str(folder)
    assert R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)['reused']


def test_never_overwrites_foreign_files(synth, tmp_path, counting):
    (tmp_path/'reports').mkdir()
    (tmp_path/'reports'/'tiny.md').write_text('my notes\n')
    with pytest.raises(MotlibError, match='not written by motlib-reproduce'):
        reproduce(TINY, 'quick', seeds=1, **_kw(synth, tmp_path))
    assert (tmp_path/'reports'/'tiny.md').read_text() == 'my notes\n' and counting['train'] == 0
    # a run folder at the place of a cell's training, not made by us
    plan = row_plan(TINY, 'a', 'quick', OVER)
    folder = tmp_path/'runs2'/'train'/f"fairmot-{R._hash(train_key(plan, 0, synth))}-s0"
    folder.mkdir(parents=True)
    (folder/'notes.txt').write_text('mine')
    kw = {**_kw(synth, tmp_path), 'runs': tmp_path/'runs2', 'out': tmp_path/'rep2'}
    with pytest.raises(MotlibError, match='not written by motlib-reproduce'):
        reproduce(TINY, 'quick', seeds=1, **kw)
    assert (folder/'notes.txt').read_text() == 'mine'



def test_two_processes_never_train_one_cell(synth, tmp_path, counting):
    """A cell being trained by a live process (its pid in `.training.pid`) is refused with a one-line error, before
    any training; a lock left by a dead process is taken over and removed when the training ends."""
    import subprocess, sys
    plan = row_plan(TINY, 'a', 'quick', OVER)
    folder = tmp_path/'runs'/'train'/f"fairmot-{R._hash(train_key(plan, 0, synth))}-s0"
    R._claim_folder(folder, R._hash(train_key(plan, 0, synth)), 'training run')
    live = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (folder/'.training.pid').write_text(f"{live.pid}\n")
        with pytest.raises(MotlibError, match=f'being trained by process {live.pid}'):
            R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)
        assert counting['train'] == 0 and (folder/'.training.pid').read_text().strip() == str(live.pid)
    finally:
        live.kill()
        live.wait()
    tr = R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)     # the holder is dead: taken over
    assert counting['train'] == 1 and tr['steps'] == 2 and not (folder/'.training.pid').exists()

def test_busy_cell_is_done_last(synth, tmp_path, counting, monkeypatch):
    """Two invocations of one table share its seeds: a cell another live process is training is left for later (the
    other seeds train first), waited for, then taken over when its holder is gone."""
    import subprocess, sys, threading
    monkeypatch.setattr(R, 'BUSY_POLL_S', 0.2)
    plan = row_plan(TINY, 'a', 'quick', OVER)
    folder = tmp_path/'runs'/'train'/f"fairmot-{R._hash(train_key(plan, 0, synth))}-s0"
    R._claim_folder(folder, R._hash(train_key(plan, 0, synth)), 'training run')
    live = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(4)'])
    threading.Thread(target=live.wait, daemon=True).start()        # reaped when it ends: no zombie keeps the pid
    (folder/'.training.pid').write_text(f"{live.pid}\n")
    lines = []
    try: res, _ = reproduce(TINY, 'quick', seeds=2, **{**_kw(synth, tmp_path), 'log': lines.append})
    finally:
        live.kill()
        live.wait()
    done = [l for l in lines if not l.startswith('training') and 'later' not in l]
    assert any('a seed 0: later' in l and f'process {live.pid}' in l for l in lines)
    assert done[0].startswith('tiny a seed 1') and done[-1].startswith('tiny b seed 0')    # seed 1 first, seed 0 last
    assert counting['train'] == 2 and all(c is not None for cs in res.values() for c in cs)
    assert not (folder/'.training.pid').exists()


def test_two_stage_row_embeds_crops(synth, tmp_path, counting):
    """A `crop_reid` row re-tracks its base's model with a separate re-ID network on crops of the boxes (TDT Table 1's
    two-stage pipeline): no training of its own, the same boxes (same AP), the re-ID network's embeddings."""
    two = Table('two', 'two-stage check', 'fairmot', ('MOTA', 'IDF1', 'AP', 'TPR'),
                rows={'a': Row(dict(reid_dim=8)), 'c': Row(base='a', crop_reid='mobilenetv2')})
    res, path = reproduce(two, 'quick', seeds=1, **_kw(synth, tmp_path))
    a, c = res['a'][0], res['c'][0]
    assert counting == dict(train=1, track=2) and a['train_dir'] == c['train_dir']
    assert c['scores']['AP'] == a['scores']['AP'] and c['key']['crop_reid'] == 'mobilenetv2'
    assert 'embeddings by `mobilenetv2` on crops of its boxes' in path.read_text()
    rows = {'a': Row(dict(reid_dim=8)), 'c': Row(base='a', crop_reid='nope')}
    bad = Table('two', 'two', 'fairmot', ('MOTA',), rows=rows)
    with pytest.raises(ConfigError, match="row 'c': nope: no such re-ID run"):
        reproduce(bad, 'quick', seeds=1, **{**_kw(synth, tmp_path), 'runs': tmp_path/'runs3'})
    assert counting['train'] == 1                                   # refused before any training
    with pytest.raises(ConfigError, match="row 'c': crop_reid needs a base row"):
        check_table(Table('bad', 'bad', 'fairmot', ('MOTA',), rows={'c': Row(crop_reid='mobilenetv2')}))


def test_extra_train_row_trains_on_more_roots(synth, tmp_path, counting):
    """An `extra_train` row (TDT sec. 4.4.4) pools the train/ sequences of more roots with data/train; its key differs
    from the same row without them, and a missing root is refused, naming the row, before any training."""
    from motlib.data.synth import generate
    extra = tmp_path/'detonly'
    generate(extra, 'tiny_detonly', splits=('train',), seed=1, reid=False,
             overrides=dict(frames=12, seqs_train=1, width=192, height=128, people_min=3, people_max=5))
    t = Table('more', 'more data', 'fairmot', ('MOTA', 'AP'),
              rows={'a': Row(dict(reid_dim=8)), 'b': Row(dict(reid_dim=8), extra_train=(str(extra),))})
    res, path = reproduce(t, 'quick', seeds=1, **_kw(synth, tmp_path))
    a, b = res['a'][0], res['b'][0]
    assert counting['train'] == 2 and a['train_dir'] != b['train_dir']
    meta = json.loads((Path(b['train_dir'])/'model.json').read_text())
    assert meta['data'] == [str(synth), str(extra)] and meta['num_ids'] == json.loads(
        (Path(a['train_dir'])/'model.json').read_text())['num_ids']           # detection-only rows add no identity
    assert f"it also trains on the sequences of `{extra}/train`" in path.read_text()
    bad = Table('more', 'more', 'fairmot', ('MOTA',), rows={'b': Row(dict(reid_dim=8), extra_train=('nope',))})
    with pytest.raises(ConfigError, match="row 'b': nope: no train/ folder"):
        reproduce(bad, 'quick', seeds=1, **{**_kw(synth, tmp_path), 'runs': tmp_path/'runs2'})
    assert counting['train'] == 2
    with pytest.raises(ConfigError, match="it takes no train overrides, method or extra_train"):
        check_table(Table('bad', 'bad', 'fairmot', ('MOTA',),
                          rows={'a': Row(), 'c': Row(base='a', extra_train=('x',))}))


# ---------------------------------------------------------------- pretrained=imagenet: on request, from a stand-in file
def _fake_weights(monkeypatch, tmp_path, arch, value):
    import torchvision
    from torchvision.models import get_weight
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))
    name = {'resnet34': 'ResNet34_Weights.IMAGENET1K_V1', 'mobilenet_v2': 'MobileNet_V2_Weights.IMAGENET1K_V1'}[arch]
    sd = {k: torch.full_like(v, value) for k, v in getattr(torchvision.models, arch)(weights=None).state_dict().items()}
    p = Path(torch.hub.get_dir())/'checkpoints'/os.path.basename(get_weight(name).url)
    p.parent.mkdir(parents=True)
    torch.save(sd, p)


def test_imagenet_trunk_from_standin(tmp_path, monkeypatch, capsys):
    from motlib.models.fairmot import build_backbone, FairMOTConfig
    monkeypatch.setattr('torch.hub.load_state_dict_from_url', lambda *a, **k: pytest.fail('network'))
    _fake_weights(monkeypatch, tmp_path, 'resnet34', 0.25)
    for name, first in (('resnet34', lambda b: b.trunk[0].weight), ('resnet34_fpn', lambda b: b.stem[0].weight)):
        b = build_backbone(FairMOTConfig(backbone=name, pretrained=False))
        assert not torch.all(first(b) == 0.25)
        imagenet_trunk(b, name)
        assert torch.all(first(b) == 0.25)
    with pytest.raises(ConfigError, match="no ImageNet weights for backbone 'dla34'"):
        imagenet_trunk(build_backbone(FairMOTConfig(backbone='dla34', dcn=False)), 'dla34')
    # asked for on a table with a DLA-34 row: a one-line error before any training
    assert reproduce_main(['fairmot_table2', '--preset', 'full', '--set', 'pretrained=imagenet']) == 2
    assert "row 'DLA-34'" in capsys.readouterr().err


def test_pretrained_imagenet_row_trains_from_standin(synth, tmp_path, monkeypatch):
    from motlib.checkpoint import load_checkpoint
    _fake_weights(monkeypatch, tmp_path, 'mobilenet_v2', 0.125)
    plan = row_plan(TINY, 'a', 'quick', {**OVER, 'pretrained': 'imagenet'})
    assert train_key(plan, 0, synth)['imagenet'] and not train_key(plan, 0, synth)['model']['pretrained']
    out = tmp_path/'start'
    R._imagenet_start(train_key(plan, 0, synth), plan, synth, out)
    ck = load_checkpoint(out/'last.pt')
    assert ck['step'] == 0 and torch.all(ck['model']['backbone.stages.0.0.0.weight'] == 0.125)
    tr = R.train_cell(plan, 0, synth, tmp_path/'runs', log=lambda *a: None)
    assert tr['steps'] == 2 and tr['resumed'] and tr['key']['imagenet']

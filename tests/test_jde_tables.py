"""The JDE / FairMOT Table 1 / joint-vs-SDE tables of notebook 14: rows, budgets and plans resolve as intended."""
import pytest
from motlib.core import ConfigError
from motlib.reproduce import REPRO_PRESETS, TABLES, preset_rows, row_plan, train_key


def test_jde_table3_quick_runs_the_papers_rows_with_pairs_for_triplets():
    assert len(TABLES['jde_table3'].rows) == 12 and len(preset_rows('jde_table3')) == 6
    assert row_plan('jde_table3', 'triplet, App.Opt')['train']['batch_size'] == 4
    assert row_plan('jde_table3', 'CE, Uniform')['train']['batch_size'] == 8
    assert row_plan('jde_table3', 'triplet, App.Opt', 'full')['train']['batch_size'] == 32
    for t, r in (('jde_table3', 'CE, Uncertainty'), ('fairmot_table1', 'stride 2, anchor-based'),
                 ('joint_vs_sde', 'JDE (joint)')):
        plan = row_plan(t, r)['train']     # whole epochs, so the cosine schedule ends (a cut one left AP at 0)
        assert plan['epochs'] == 2 and plan.get('max_steps') is None, (t, r)


def test_fairmot_table1_same_backbone_for_both_heads():
    ab = row_plan('fairmot_table1', 'stride 2, anchor-based')
    af = row_plan('fairmot_table1', 'stride 4, anchor-free')
    assert (ab['method'], ab['train']['backbone'], ab['train']['strides']) == ('jde', 'fairmot-mobilenetv2', (2,))
    assert (af['method'], af['train']['backbone']) == ('fairmot', 'mobilenetv2')
    assert ab['train']['pretrained'] and af['train']['pretrained']
    assert len(preset_rows('fairmot_table1')) == len(preset_rows('fairmot_table1', 'full')) == 6   # 2 heads x 3 strides
    for s in (2, 4, 8):                    # the anchor-free rows train FairMOT at their stride, on the same backbone
        plan = row_plan('fairmot_table1', f'stride {s}, anchor-free')
        assert (plan['method'], plan['train']['stride'], plan['train']['backbone']) == ('fairmot', s, 'mobilenetv2')
        assert row_plan('fairmot_table1', f'stride {s}, anchor-free', 'full')['train']['backbone'] == 'dla34'


def test_fairmot_table1_anchor_free_rows_resolve_to_their_stride():
    "The row's stride reaches the model config (train_key), so strides 2, 4 and 8 are three different trained models."
    keys = [train_key(row_plan('fairmot_table1', f'stride {s}, anchor-free'), 0, 'data/synth') for s in (2, 4, 8)]
    assert [k['model']['stride'] for k in keys] == [2, 4, 8]


def test_jde_table1_sort_retracks_and_sde_row_needs_its_reid_run(tmp_path):
    assert row_plan('jde_table1', 'SORT')['tracker'] == 'sort'
    plan = row_plan('joint_vs_sde', 'SDE, OSNet-like re-ID')
    assert plan['method'] == 'sde'
    if not (tmp_path / 'no').exists():
        with pytest.raises(ConfigError, match='does not exist'):
            train_key(dict(plan, train={**plan['train'], 'reid': str(tmp_path / 'no')}), 0, 'data/synth')

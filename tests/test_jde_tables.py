"""The JDE / FairMOT Table 1 / joint-vs-SDE tables of notebook 14: rows, budgets and plans resolve as intended."""
import pytest
from motlib.core import ConfigError
from motlib.reproduce import REPRO_PRESETS, TABLES, preset_rows, row_plan, train_key


def test_jde_table3_quick_runs_the_papers_rows_with_pairs_for_triplets():
    assert len(TABLES['jde_table3'].rows) == 12 and len(preset_rows('jde_table3')) == 6
    assert row_plan('jde_table3', 'triplet, App.Opt')['train']['batch_size'] == 4
    assert row_plan('jde_table3', 'CE, Uniform')['train']['batch_size'] == 8
    assert row_plan('jde_table3', 'triplet, App.Opt', 'full')['train']['batch_size'] == 32
    assert row_plan('jde_table3', 'CE, Uncertainty')['train']['max_steps'] == 120


def test_fairmot_table1_same_backbone_for_both_heads():
    ab = row_plan('fairmot_table1', 'stride 2, anchor-based')
    af = row_plan('fairmot_table1', 'stride 4, anchor-free')
    assert (ab['method'], ab['train']['backbone'], ab['train']['strides']) == ('jde', 'fairmot-mobilenetv2', (2,))
    assert (af['method'], af['train']['backbone']) == ('fairmot', 'mobilenetv2')
    assert ab['train']['pretrained'] and af['train']['pretrained']
    assert 'stride 2, anchor-free' not in preset_rows('fairmot_table1')
    assert 'stride 2, anchor-free' not in preset_rows('fairmot_table1', 'full')


def test_jde_table1_sort_retracks_and_sde_row_needs_its_reid_run(tmp_path):
    assert row_plan('jde_table1', 'SORT')['tracker'] == 'sort'
    plan = row_plan('joint_vs_sde', 'SDE, OSNet-like re-ID')
    assert plan['method'] == 'sde'
    if not (tmp_path / 'no').exists():
        with pytest.raises(ConfigError, match='does not exist'):
            train_key(dict(plan, train={**plan['train'], 'reid': str(tmp_path / 'no')}), 0, 'data/synth')

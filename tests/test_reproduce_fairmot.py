"End-to-end checks of `motlib-reproduce` that need no training (notebook 14)."
import pytest
from motlib.reproduce import reproduce_main, row_overrides, write_report, TABLES, REPRO_PRESETS, CAVEATS


@pytest.mark.parametrize('argv, msg', [(['fairmot_table9'], "unknown table 'fairmot_table9'"),
                                       (['fairmot_table2', '--preset', 'huge'], "unknown preset 'huge'"),
                                       (['fairmot_table4', '--set', 'max_steps'], "--set expects KEY=VALUE")])
def test_cli_errors(argv, msg, capsys):
    assert reproduce_main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count('\n') == 1


def test_presets_are_data():
    for name, t in TABLES.items():
        assert set(t['rows']) == set(t['paper'])
        for preset in REPRO_PRESETS:
            for row in t['rows']: assert 'backbone' in row_overrides(name, row, preset)
    assert row_overrides('fairmot_table2', 'DLA-34', 'full')['backbone'] == 'dla34'


def test_report_not_run(tmp_path):
    p = write_report('fairmot_table4', {k: None for k in TABLES['fairmot_table4']['rows']}, 'quick', tmp_path, 'cmd',
                     notes=CAVEATS['quick'])
    txt = p.read_text()
    assert '| 512 | paper | 40.4 | 52.1 | 210 | 28.7 | 61.5 |' in txt and txt.count('| ours | not run') == 4

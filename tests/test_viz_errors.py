"""The evaluator's per-frame events drawn (notebook 21, issue 13 section 4): frame_events agrees with the evaluator's
counts, render_errors marks what it should, ErrorPlayer switches trackers, error_strip renders without a display."""
import numpy as np
import pytest
from motlib.eval import evaluate_sequence
from motlib.viz.player import ERROR_COLORS, ErrorPlayer, error_strip, frame_events, render_errors, rows_to_tracks
from test_viz_player import _toy


def _results(seq):
    "Output ids 11/12, swapped from frame 3 on; person 1 missed at frame 2; a box on nobody at frame 4."
    res = seq.gt.copy()
    res[:, 1] += 10
    res[res[:, 0] >= 3, 1] = [12, 11] * 3
    res = res[~((res[:, 0] == 2) & (res[:, 1] == 11))]
    return np.concatenate([res, [[4, 99, 55, 2, 5, 5, 1, -1, -1]]])


def test_events_match_the_evaluator(tmp_path):
    seq = _toy(tmp_path)
    res = _results(seq)
    ev = frame_events(seq, res)
    assert ev[2]['miss'] == [1] and ev[4]['fp'] == [99]
    assert sorted(ev[3]['switch']) == [(1, 12), (2, 11)]
    m = evaluate_sequence(seq.gt, res, 'toy-01')
    counts = {k: sum(len(e[k]) for e in ev.values()) for k in ('switch', 'fp', 'miss')}
    assert counts == dict(switch=int(m['IDs']), fp=int(m['FP']), miss=int(m['FN']))


def test_render_marks_errors_and_the_player_switches(tmp_path):
    pytest.importorskip('ipywidgets')
    seq = _toy(tmp_path)
    res = _results(seq)
    by_frame, ev = rows_to_tracks(res), frame_events(seq, res)
    yellow = lambda im: (im == ERROR_COLORS['switch']).all(-1).any()
    assert yellow(render_errors(seq, 3, by_frame, ev)) and not yellow(render_errors(seq, 5, by_frame, ev))
    assert render_errors(seq, 1, by_frame, ev).shape == (48, 64 * 2 + 8, 3)
    p = ErrorPlayer(seq, {'perfect': seq.gt, 'ours': res})
    assert p.counts(3) == dict(miss=0, fp=0, switch=0)
    p.choice.value = 'ours'
    assert p.counts(3) == dict(miss=0, fp=0, switch=2)
    fig = error_strip(seq, {'ours': res}, (2, 3, 4))
    assert len(fig.axes) == 3


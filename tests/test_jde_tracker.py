"End-to-end checks of motlib.track.jde.JDETracker on a small synthetic scene."
import numpy as np
import pytest
from motlib.core import Detections, MotlibError, make_config
from motlib.track.jde import JDETracker, JDETrackerConfig


def _frames(T=40, hide=range(15, 19)):
    "Two people crossing on one row (distinct embeddings) plus a third one hidden for a few frames."
    rng = np.random.default_rng(0)
    emb = np.eye(3, 16) + 0.05 * rng.normal(size=(3, 16))
    out = []
    for t in range(T):
        x = np.array([100 + 5 * t, 300 - 5 * t, 500 + 2 * t])
        boxes = np.c_[x, [200, 200, 400], x + 40, [300, 300, 500]].astype(np.float32)
        vis = np.array([True, True, t not in hide])
        out.append((Detections(boxes[vis], np.full(vis.sum(), 0.9), emb[vis] + 0.02 * rng.normal(size=(vis.sum(), 16)), frame=t + 1),
                    np.flatnonzero(vis) + 1))
    return out


@pytest.mark.parametrize("preset", ["jde", "fairmot"])
def test_no_id_switch_crossing_and_gap(preset):
    tr = JDETracker(make_config(JDETrackerConfig, preset))
    ids = {}
    for d, gt in _frames():
        out = tr.update(d)
        for g, box in zip(gt, d.boxes):
            if (np.abs(d.boxes - box).max(1) < 16).sum() > 1: continue   # boxes coincide: ambiguous to score
            hit = np.flatnonzero(np.abs(out.boxes - box).max(1) < 8)
            if len(hit): ids.setdefault(int(g), set()).add(int(out.ids[hit[0]]))
    assert ids == {1: {1}, 2: {2}, 3: {3}}


def test_ids_private_and_errors():
    a, b = JDETracker(), JDETracker()
    fr = _frames(3)
    for d, _ in fr: ra = a.update(d)
    for d, _ in fr: rb = b.update(d)
    assert sorted(ra.ids) == sorted(rb.ids) == [1, 2, 3]
    a.reset(); assert a.next_id == 1 and a.frame_id == 0
    a.update(fr[0][0])
    with pytest.raises(MotlibError, match="frame 2: JDETracker needs appearance embeddings"):
        a.update(Detections([[0, 0, 1, 1]]))
    b.update(Detections.empty())
    with pytest.raises(MotlibError, match="frame 5: detections have 4-dimensional"):
        b.update(Detections([[0, 0, 10, 10]], [0.9], np.ones((1, 4))))

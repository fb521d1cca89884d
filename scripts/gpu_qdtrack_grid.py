"""One QDTrack quick-recipe job: train (GPU, float32) with `frozen_stages=1 epochs=3` plus the given overrides, detect
SynthMOT val once, re-track it with the QD tracker (init 0.9, obj 0.7, class-agnostic NMS 0.3, offline steps) and
FairMOT's tracker; prints one JSON line. How the GPU grid in reports/qdtrack_quick_recipe.md was run, 4 jobs at a time
with OMP_NUM_THREADS=3 and num_workers=2 each on a 16-core H200 machine.

Usage (repository root):  python scripts/gpu_qdtrack_grid.py NAME [KEY=VALUE ...]   (DEV=cpu: a dry run)
"""
import sys, os, json, time, subprocess, dataclasses
from pathlib import Path
import numpy as np, torch
name, over = sys.argv[1], sys.argv[2:]
run = Path('runs/grid')/name
Path('logs').mkdir(exist_ok=True)
t0 = time.time()
cmd = [sys.executable, '-c', "import sys; from motlib.cli import train_main; sys.argv[0]='motlib-train'; train_main()",
       'qdtrack', '--preset', 'quick', '--data', 'data/synth', '--out', str(run), '--overwrite', '--set',
       'device=' + os.environ.get('DEV', 'cuda'), 'amp=off', 'progress=false', 'num_workers=2', 'frozen_stages=1',
       'epochs=3', *over]
r = subprocess.run(cmd, capture_output=True, text=True)
open(f'logs/{name}.train.log', 'w').write(r.stdout + r.stderr)
if r.returncode: print(json.dumps(dict(name=name, error=r.stderr[-800:])), flush=True); sys.exit(1)
t_train = time.time() - t0
torch.set_num_threads(2)
from motlib.pipeline import load_trained, ModelDetector
from motlib.data.mot import list_sequences, write_results
from motlib.data.datasets import iter_frames
from motlib.track.qd import QDTracker, QDTrackerConfig
from motlib.track.jde import JDETracker, JDETrackerConfig
from motlib.track.byte import interpolate_tracks, drop_short_tracks
from motlib.eval import evaluate
from motlib.core import nms
model, meta = load_trained(run, device=os.environ.get('DEV', 'cuda'))
det = ModelDetector(model, model.cfg.input_size, os.environ.get('DEV', 'cuda'))
seqs = list_sequences(Path('data/synth/val'))
dets = {s.name: [(t, det(im, t)) for t, im in iter_frames(s)] for s in seqs}
def pnms(d, thr):
    if thr is None or len(d.boxes) == 0: return d
    k = np.sort(nms(d.boxes, d.scores, thr))                  # class-agnostic, kept in their original order
    e = None if d.embeddings is None else d.embeddings[k]
    return dataclasses.replace(d, boxes=d.boxes[k], scores=d.scores[k], embeddings=e,
                               labels=None if d.labels is None else d.labels[k])
def score(tag, tracker='qd', gap=0, min_len=0, nmsp=None, **kw):
    out = Path('res')/name/tag
    for s in seqs:
        if tracker == 'qd': T = QDTracker(QDTrackerConfig(**kw))
        else:
            T = JDETracker(JDETrackerConfig(frame_rate=s.frame_rate, **{**JDETrackerConfig.presets()['fairmot'], **kw}))
        res = [(t, T.update(pnms(d, nmsp))) for t, d in dets[s.name]]
        write_results(out/f'{s.name}.txt', interpolate_tracks(drop_short_tracks(res, min_len), gap))
    df = evaluate(seqs, out).loc['OVERALL']
    return {k: round(100 * float(df[k]), 1) for k in ('MOTA', 'IDF1', 'HOTA', 'Rcll', 'Prcn')} | {'IDs': int(df['IDs'])}
specs = dict(qd97off=dict(init_score_thr=0.9, obj_score_thr=0.7, nmsp=0.3, gap=5, min_len=5),
             fm7off=dict(tracker='jde', det_thresh=0.7, nmsp=0.3, gap=5, min_len=5))
last = list(__import__('csv').DictReader(open(run/'log.csv')))[-1]
row = dict(name=name, over=over, train_s=round(t_train), steps=last.get('step'))
for tag, kw in specs.items():
    row[tag] = score(tag, **kw)
    open(f'logs/{name}.part', 'w').write(json.dumps(row))
print(json.dumps(row), flush=True)

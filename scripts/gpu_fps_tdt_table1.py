"""TDT Table 1's frame rates on a GPU: the student alone vs the two-stage pipeline (its boxes + the ImageNet
MobileNetV2 on crops), FairMOT's tracker, SynthMOT val (300 frames); two rounds, alternating, the first is warm-up.

Usage (repository root):  python scripts/gpu_fps_tdt_table1.py RUN > fps.jsonl   (RUN: a `motlib-train tdt` run folder;
DEV=cpu for a dry run; ONE=1 for one sequence). How reports/tdt_table1_gpu.md was measured.
"""
import os, json, sys, torch
from pathlib import Path
from motlib.pipeline import load_trained, ModelDetector, track_and_score
from motlib.detectors import SDEDetector
from motlib.models.reid import load_reid
from motlib.data.mot import list_sequences
dev = os.environ.get('DEV', 'cuda')
model, meta = load_trained(Path(sys.argv[1]), device=dev)
det = ModelDetector(model, model.cfg.input_size, dev)
two = SDEDetector(det, load_reid('mobilenetv2', dev))
seqs = list_sequences(Path('data/synth/val'))
if os.environ.get('ONE'): seqs = seqs[:1]
rows = []
for rep in range(2):
    for name, d in (('student', det), ('two-stage', two)):
        out = track_and_score(d, seqs, f'res/fps/{name}{rep}', 'jde', 'fairmot')
        m = out['metrics'].loc['OVERALL']
        rows.append(dict(round=rep, row=name, fps=round(float(out['fps']), 2), MOTA=round(100 * float(m['MOTA']), 1),
                         IDF1=round(100 * float(m['IDF1']), 1)))
        print(json.dumps(rows[-1]), flush=True)
print(json.dumps(dict(device=torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu', torch=torch.__version__,
                      ratio=rows[2]['fps'] / rows[3]['fps'])), flush=True)

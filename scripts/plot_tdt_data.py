"""Plot of TDT section 4.4.4 (paper 004, Fig. 5): MOTA, IDF1 and AP against the number of training sequences.

Usage (repository root, after `motlib-reproduce tdt_data --preset quick`):  python scripts/plot_tdt_data.py
Reads runs/reproduce/tdt_data-quick.json (the raw per-seed records) and writes reports/tdt_data.png: mean +- sample
std over the seeds, each seed as a dot.
"""
import io, json, sys
from pathlib import Path
import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from motlib.core import atomic_write_bytes

raw = Path(sys.argv[1] if len(sys.argv) > 1 else 'runs/reproduce/tdt_data-quick.json')
out = Path(sys.argv[2] if len(sys.argv) > 2 else 'reports/tdt_data.png')
rows = json.loads(raw.read_text())['rows']
n_seqs = [int(name.split()[0]) for name in rows]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, col in zip(axes, ('MOTA', 'IDF1', 'AP')):
    per_row = [[r['scores'][col] for r in recs if r] for recs in rows.values()]
    means = [np.mean(v) for v in per_row]
    stds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in per_row]
    ax.errorbar(n_seqs, means, yerr=stds, marker='o', capsize=4, color='C0')
    for n, v in zip(n_seqs, per_row): ax.plot([n] * len(v), v, '.', color='C1', alpha=0.6)
    ax.set_xlabel('training sequences (10 labelled + detection-only)')
    ax.set_title(f"{col}, % (mean +- std, {max(len(v) for v in per_row)} seeds)")
    ax.set_xticks(n_seqs)
    ax.xaxis.label.set_fontsize(8)
fig.suptitle('TDT quick preset, 750 steps each: more detection-only data (paper 004, sec. 4.4.4)', fontsize=10)
fig.tight_layout()
buf = io.BytesIO()
fig.savefig(buf, format='png', dpi=110)
atomic_write_bytes(out, buf.getvalue())
print(out)

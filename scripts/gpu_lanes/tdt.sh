set -x
motlib-train reid --preset quick --out runs/teachers/osnet-small --set width=0.25 epochs=8 device=cuda progress=false
motlib-train reid --preset quick --out runs/teachers/osnet-large --set device=cuda progress=false
python3 -c "from motlib.models.reid import teacher_report as r; print(r({'ImageNet MobileNetV2': 'mobilenetv2', 'OSNet-like small': 'runs/teachers/osnet-small', 'OSNet-like large': 'runs/teachers/osnet-large'}, 'data/synth/reid', 'reports/reid_teachers.md', 'cuda'))"
motlib-reproduce tdt_quick --preset quick --device cuda
motlib-reproduce tdt_table3 --preset quick --device cuda
python3 -c "from motlib.models.tdt import storage_report as s; print(s('runs/cache/tdt', 'data/synth', 'reports/tdt_storage.md'))"

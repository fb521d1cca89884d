set -x
motlib-reproduce qdtrack_ablations --preset quick --device cuda
motlib-reproduce qdtrack_quick --preset quick --device cuda
motlib-synth data/synth_mc --preset tiny_cyclists --splits train val
motlib-train qdtrack --preset quick --data data/synth_mc --out runs/qdtrack-mc --set num_classes=2 device=cuda progress=false

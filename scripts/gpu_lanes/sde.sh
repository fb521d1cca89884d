set -x
motlib-bench sde --device cuda --root /tmp/bench-sde --report reports/sde_speed_cuda.md

"Speed of motlib.data.datasets transforms on a 1920x1080 frame (best and median of repeats)."
import time, statistics, numpy as np, cv2, torch
from motlib.data.datasets import AugConfig, AugParams, sample_aug_params, transform_frame, hsv_jitter

def bench(f, n=30):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append((time.perf_counter() - t) * 1000)
    return min(ts), statistics.median(ts)

def hsv_float(image, s, v):   # the authors' float arithmetic, for comparison
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32); hsv[..., 1] *= s; hsv[..., 2] *= v
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)

rng = np.random.default_rng(0)
im = cv2.GaussianBlur(rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8), (9, 9), 3)
b = np.c_[rng.uniform(0, 1800, 40), rng.uniform(0, 800, 40)]; boxes = np.c_[b, b + [60, 180]]
cfg = AugConfig(); p = sample_aug_params(cfg, rng)
rows = [('HSV jitter, float (authors)', lambda: hsv_float(im, 1.3, 0.7)), ('HSV jitter, LUT (motlib)', lambda: hsv_jitter(im, 1.3, 0.7))]
for size in [(1088, 608), (320, 192)]:
    rows.append((f'transform_frame {size[0]}x{size[1]}, letterbox only', lambda size=size: transform_frame(im, boxes, np.arange(40), size)))
    rows.append((f'transform_frame {size[0]}x{size[1]}, full augmentation', lambda size=size: transform_frame(im, boxes, np.arange(40), size, p, cfg)))
ok, buf = cv2.imencode('.jpg', im)
rows.append(('JPEG decode 1920x1080 (cv2.imdecode), for scale', lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR)))
print('| step | best ms | median ms |\n|---|---|---|')
for name, f in rows:
    f(); lo, med = bench(f); print(f'| {name} | {lo:.1f} | {med:.1f} |')
print(f'\ntorch {torch.__version__}, opencv {cv2.__version__}, numpy {np.__version__}, cv2 threads {cv2.getNumThreads()}')

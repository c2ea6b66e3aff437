#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (as
# root): the real parts the integration tests drive, then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  docker-registry   # distribution 2.8.2: the registry the tests fetch from
  skopeo            # pushes test images, and checks our archives
  podman            # loads our archives into a throwaway storage; a local store to build from
  docker.io         # dockerd 20.10: a private daemon to build from (docker-daemon:, --local-store docker)
  umoci             # inspects OCI layouts
  apache2-utils     # htpasswd for the Basic-auth registry
  openssl           # test CA and certificates
  systemd-container # systemd-nspawn, to boot a test root
  debootstrap       # builds that test root; KIWI bootstraps Debian with it too
  kiwi              # KIWI 9.24 (kiwi-ng): builds a compiled description (test/e2e/kiwi-compile.test.ts)
  rsync             # KIWI copies image roots and description overlays with it
  gpg               # KIWI imports the Debian archive keyring with it (--signing-key)
  xz-utils          # KIWI's tbz result is a .tar.xz
  mkosi             # mkosi 14: builds a bookworm image with the overlay as --extra-tree (test/e2e/overlay-mkosi.test.ts)
  debian-archive-keyring # debootstrap (mkosi, the test root) checks the mirror's Release with it; only a Recommends
  iproute2          # network namespaces for the WAN benchmark
  python3           # its delay line, on kernels without netem (bench/delay-line.py)
  time              # /usr/bin/time: peak RSS of the processes the build benchmark runs
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund

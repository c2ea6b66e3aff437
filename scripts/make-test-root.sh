#!/usr/bin/env bash
# Builds (once) the Debian bookworm root the end-to-end tests boot with
# systemd-nspawn: systemd, podman and docker inside. The mirror is read from
# this machine's own apt configuration, so no host name is written here.
# Usage: make-test-root.sh [CACHE_DIR]   (prints the root's path)
#        make-test-root.sh --mirror        (prints the bookworm mirror this machine's apt uses)
#        make-test-root.sh --configure DIR (applies the settings below to another root, e.g. one KIWI built)
set -euo pipefail
CACHE=${1:-${IMGDESC_TEST_ROOT_CACHE:-/var/cache/imgdesc-test}}
ROOT="$CACHE/bookworm-root"
STAMP="$ROOT/.imgdesc-test-root-v1"

# Settings the tests rely on; cheap, so applied on every call.
configure() {
  local r=$1
  # The tests run the root on overlayfs: container storage must not be overlay.
  mkdir -p "$r/etc/docker" "$r/etc/containers"
  # dockerd cannot program iptables inside nspawn.
  printf '{"iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false, "bridge": "none", "storage-driver": "vfs"}\n' > "$r/etc/docker/daemon.json"
  printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' > "$r/etc/containers/storage.conf"
  # A quiet, quick boot: no getty on the console, no network waits, no podman timers.
  local unit
  for unit in console-getty.service systemd-networkd-wait-online.service podman-auto-update.service podman-auto-update.timer podman-restart.service; do
    ln -sf /dev/null "$r/etc/systemd/system/$unit"
  done
  echo imgdesc-test > "$r/etc/hostname"
  echo 0123456789abcdef0123456789abcdef > "$r/etc/machine-id"
}

mirror() {
  local f
  # deb822 .sources: the URIs of a stanza whose Suites include bookworm.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && !/security/ { if (match($0, /URIs: *[^ \n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs: */, "", s); print s; exit } }' "$f"
  done
  # one-line .list format: deb URL bookworm main
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1=="deb" && $3=="bookworm" {print $2; exit}'
  return 0
}
find_mirror() {
  local m
  m=$( (mirror || true) | head -n1)
  if [ -z "$m" ]; then echo "make-test-root: no bookworm mirror found in /etc/apt" >&2; exit 1; fi
  echo "$m"
}

case "${1:-}" in
  --mirror) find_mirror; exit 0 ;;
  --configure) [ -d "${2:-}" ] || { echo "make-test-root: --configure needs a root directory" >&2; exit 2; }; configure "$2"; exit 0 ;;
esac

if [ -f "$STAMP" ]; then configure "$ROOT"; echo "$ROOT"; exit 0; fi
MIRROR=$(find_mirror)

command -v debootstrap >/dev/null || { echo "make-test-root: debootstrap is not installed" >&2; exit 1; }
mkdir -p "$CACHE"
TMP="$CACHE/bookworm-root.tmp.$$"
rm -rf "$TMP"
trap 'rm -rf "$TMP"' EXIT
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,podman,netavark,aardvark-dns,crun,conmon,catatonit,docker.io,iproute2 \
  bookworm "$TMP" "$MIRROR" >&2
configure "$TMP"
rm -rf "$TMP/var/cache/apt/archives/"*.deb
touch "$TMP/.imgdesc-test-root-v1"
rm -rf "$ROOT"
mv "$TMP" "$ROOT"
trap - EXIT
echo "$ROOT"

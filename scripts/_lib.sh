# shellcheck shell=bash
# Helpers shared by scripts/services and scripts/test. Source it; do not run it.
# Everything here writes to stderr so that stdout stays free for machine-readable output.

SLUICE_BUN_VERSION="${SLUICE_BUN_VERSION:-1.4.5}"

log()  { printf '[%s] %s\n' "${SLUICE_LOG_TAG:-sluice}" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "${SLUICE_LOG_TAG:-sluice}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${SLUICE_LOG_TAG:-sluice}" "$*" >&2; exit 1; }

# Run as root, or through sudo when we are not root.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root to run: $*"
  fi
}

_SLUICE_APT_UPDATED=0
# apt_install PKG... : apt-get update (once per process), then install the packages.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: $*"
  if [[ $_SLUICE_APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    _SLUICE_APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
    </dev/null || die "apt-get install $* failed"
}

# need_cmd CMD [APT_PACKAGE] : make sure CMD is on PATH, installing the package if it is not.
need_cmd() {
  local cmd=$1 pkg=${2:-$1}
  command -v "$cmd" >/dev/null 2>&1 && return 0
  apt_install "$pkg"
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing $pkg"
}

# ensure_bun : bun on PATH, installed with npm (pinned version) when missing.
ensure_bun() {
  command -v bun >/dev/null 2>&1 && return 0
  need_cmd npm npm
  log "bun not found; npm install -g bun@$SLUICE_BUN_VERSION"
  as_root npm install -g "bun@$SLUICE_BUN_VERSION" >&2 </dev/null || die "npm install -g bun@$SLUICE_BUN_VERSION failed"
  hash -r
  if ! command -v bun >/dev/null 2>&1; then
    local prefix
    prefix=$(npm prefix -g 2>/dev/null || true)
    [[ -n $prefix && -x $prefix/bin/bun ]] && export PATH="$prefix/bin:$PATH"
  fi
  command -v bun >/dev/null 2>&1 || die "bun still missing after npm install"
}

# apt_download DIR PACKAGE... : the packages' .deb files into DIR (created), without installing
# them; `apt-get update` first only when the package lists are too old to find them.
apt_download() {
  local into=$1; shift
  mkdir -p "$into"
  if ! (cd "$into" && apt-get download "$@" >&2 2>/dev/null); then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    (cd "$into" && apt-get download "$@" >&2) || die "apt-get download $* failed"
  fi
}

# ensure_pgbouncer : print the path of a pgbouncer, fetching it when missing. The tests put one in
# front of PostgreSQL to show sluice works through it (it refuses startup parameters sluice might
# send). Installing the package would start a daemon; instead its .deb and libc-ares2's are
# downloaded with `apt-get download` and unpacked into $SLUICE_TOOLS_DIR/pgbouncer, with a wrapper
# that finds the unpacked library.
ensure_pgbouncer() {
  if command -v pgbouncer >/dev/null 2>&1; then command -v pgbouncer; return 0; fi
  local dir=${SLUICE_TOOLS_DIR:-/var/tmp/sluice-tools}
  if [[ -x $dir/pgbouncer/run ]]; then printf '%s\n' "$dir/pgbouncer/run"; return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "pgbouncer not found and no apt-get: install PgBouncer"
  rm -rf "$dir/pgbouncer"
  log "pgbouncer not found; apt-get download pgbouncer libc-ares2 (unpacked into $dir/pgbouncer, not installed)"
  apt_download "$dir/pgbouncer/deb" pgbouncer libc-ares2
  local deb
  for deb in "$dir"/pgbouncer/deb/*.deb; do dpkg-deb -x "$deb" "$dir/pgbouncer/root" || die "could not unpack $deb"; done
  rm -rf "$dir/pgbouncer/deb"
  # Readable by the postgres OS user, which runs it when the caller is root (PgBouncer refuses root).
  chmod -R a+rX "$dir/pgbouncer"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$dir/pgbouncer/root/usr/lib/x86_64-linux-gnu" "$dir/pgbouncer/root/usr/sbin/pgbouncer" > "$dir/pgbouncer/run"
  chmod a+rx "$dir/pgbouncer/run"
  "$dir/pgbouncer/run" --version >/dev/null || die "the unpacked pgbouncer does not run: install PgBouncer"
  printf '%s\n' "$dir/pgbouncer/run"
}

# ensure_promtool : print the path of a promtool (Prometheus's checker), fetching it when missing.
# Debian has promtool only in the `prometheus` package (96 MB installed, with a daemon, its service
# and ten web-asset packages), so instead of installing that, the .deb (19 MB) is downloaded with
# `apt-get download` and only usr/bin/promtool is unpacked into $SLUICE_TOOLS_DIR.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then command -v promtool; return 0; fi
  local dir=${SLUICE_TOOLS_DIR:-/var/tmp/sluice-tools}
  if [[ -x $dir/promtool ]]; then printf '%s\n' "$dir/promtool"; return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "promtool not found and no apt-get: install Prometheus's promtool"
  log "promtool not found; apt-get download prometheus (only promtool is unpacked, into $dir)"
  apt_download "$dir/deb" prometheus
  local deb
  deb=$(ls -t "$dir"/deb/prometheus_*.deb | head -n 1)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/deb" ./usr/bin/promtool || die "could not unpack promtool from $deb"
  mv "$dir/deb/usr/bin/promtool" "$dir/promtool"
  rm -rf "$dir/deb"
  printf '%s\n' "$dir/promtool"
}

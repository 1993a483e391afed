#!/usr/bin/env bash
# Installs what hfsync needs to build and test, from Debian's packages (and npm for the
# interop and schema tests). Safe to run again; uses sudo when not root.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(meson ninja-build pkg-config gcc g++ python3
      libcurl4-openssl-dev libssl-dev libyaml-dev libpcre2-dev libgit2-dev libjansson-dev
      libmicrohttpd-dev libarchive-dev zlib1g-dev git git-lfs curl)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (with npm) runs the interop tests against the official JS client. Machines that
# already have a Node.js with npm bundled (e.g. NodeSource's) keep it.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

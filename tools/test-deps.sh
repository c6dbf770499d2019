#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against (real peers and tools:
# haproxy, nginx's stream module, socat, tmux, openssl, promtool, MariaDB, dnsmasq,
# etcd, keepalived, BIRD and nftables with iproute2 and curl for the fleet tests, perf for the
# bench's profile, and the C compiler and libc headers the native relay is built with: gcc,
# make, libc6-dev...). Run by
# `make test` before the suite, so a clean CI machine skips nothing. Needs root
# and apt-get; elsewhere it says what is missing.
set -u
PKGS=(haproxy nginx libnginx-mod-stream socat tmux openssl prometheus python3 systemd iproute2
  mariadb-server mariadb-client dnsmasq-base etcd-server etcd-client keepalived bird2 curl nftables wrk iperf3 util-linux linux-perf
  gcc make libc6-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "test-deps: missing Debian packages (install them as root): ${missing[*]}" >&2
  exit 0
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# services from these packages must not start at install time (no init here, and ports stay free)
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
rc=$?
rm -f /usr/sbin/policy-rc.d
exit $rc

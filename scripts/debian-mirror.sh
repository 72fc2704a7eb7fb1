#!/usr/bin/env bash
# Prints the machine's own Debian mirror, read from its apt sources (the
# first URI that is not the security archive), so that no host name is
# written into the project. Used by setup-debian.sh and build-mpich.sh to
# fetch source packages.
set -euo pipefail

uri=""
f=/etc/apt/sources.list.d/debian.sources
if [ -r "$f" ]; then
  uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /-security\/?$/) { print $i; exit } }' "$f")
fi
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" || $1 == "deb-src" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($i !~ /-security\/?$/) { print $i; exit } ; break } }' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  printf 'debian-mirror: no Debian mirror URI found in %s or /etc/apt/sources.list\n' "$f" >&2
  exit 1
fi
printf '%s' "$uri"

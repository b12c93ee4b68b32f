#!/usr/bin/env bash
# Makes sure the system has what the next make step needs: when CHECK fails, installs PACKAGE from Debian's
# archive if this is a root shell with apt-get (a container, CI), else says in one line what to install and stops.
#   scripts/need_system.sh PACKAGE "WHAT NEEDS IT" CHECK...
#   e.g. scripts/need_system.sh chromium "make test-browser" command -v chromium
set -u
package=$1 why=$2
shift 2
"$@" > /dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
    echo "installing the $package package, which $why needs"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" > /dev/null
    "$@" > /dev/null 2>&1 && exit 0
fi
echo "make: $why needs the $package package, which is not installed (Debian, Ubuntu: sudo apt-get install $package)" >&2
exit 1

#!/usr/bin/env bash
# Install what the interoperability tests (tests/interop) need besides the Python venv
# (suds and zeep come with `pip install -e '.[test]'`):
#   - PHP 8 with ext-soap (SoapClient) and ext-dom (php-xml), from Debian's packages;
#   - JAX-WS RI (wsimport, Debian `jaxws`) and a JDK (javac, java: `default-jdk-headless`);
#   - gSOAP (wsdl2h, soapcpp2: `gsoap`; stdsoap2.h and the library: `libgsoap-dev`) and g++;
#   - node-soap, pinned in tests/interop/node/package.json + package-lock.json (npm ci).
# Idempotent: installs only what is missing, in one apt-get run. Exits non-zero on any
# failure. Needs root (or sudo) for apt-get when a Debian package is missing; Node.js
# >= 20.19 must be on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf 'interop setup: %s\n' "$*"; }
die() { printf 'interop setup: ERROR: %s\n' "$*" >&2; exit 1; }

php_ready() {
    command -v php >/dev/null 2>&1 || return 1
    local modules
    modules="$(php -m 2>/dev/null)" || return 1
    grep -qx 'soap' <<<"$modules" && grep -qx 'dom' <<<"$modules"
}

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install $* by hand"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "no apt-get: install $* by hand"
    say "apt-get install $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

has() { command -v "$1" >/dev/null 2>&1; }
deb_installed() { dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'; }

# -- Debian packages: PHP SoapClient, JAX-WS RI + JDK, gSOAP + g++ -----------------------
apt_wanted=()
php_ready || apt_wanted+=(php-cli php-soap php-xml)
has wsimport || apt_wanted+=(jaxws)
has javac || apt_wanted+=(default-jdk-headless)
{ has wsdl2h && has soapcpp2; } || apt_wanted+=(gsoap)
deb_installed libgsoap-dev || apt_wanted+=(libgsoap-dev)
has g++ || apt_wanted+=(g++)
if [ ${#apt_wanted[@]} -gt 0 ]; then
    apt_install "${apt_wanted[@]}"
fi

php_ready || die "php -m still lacks soap or dom after installing php-cli php-soap php-xml"
say "php $(php -r 'echo PHP_VERSION;') with soap and dom: present"
for tool in wsimport javac java wsdl2h soapcpp2 g++; do
    has "$tool" || die "$tool is still not on PATH after apt-get install ${apt_wanted[*]:-(nothing)}"
done
deb_installed libgsoap-dev || die "libgsoap-dev is still not installed"
[ -f /usr/share/java/jaxws-rt.jar ] || die "/usr/share/java/jaxws-rt.jar is missing (Debian package jaxws)"
say "JAX-WS RI $(dpkg-query -W -f='${Version}' jaxws 2>/dev/null || echo '?'), $(javac -version 2>&1): present"
say "gSOAP $(dpkg-query -W -f='${Version}' libgsoap-dev), $(g++ --version | head -n1): present"

# -- node-soap --------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not on PATH (node-soap 1.13 needs Node.js >= 20.19)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH"
node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1);
' || die "node $(node --version) is too old: node-soap 1.13 needs Node.js >= 20.19"

node_dir="$here/node"
stamp="$node_dir/node_modules/.package-lock.json"   # npm's own record of what it installed
wanted="$(node -p "require('$node_dir/package.json').dependencies.soap")"
installed="$(cd "$node_dir" && node -p "try { require('soap/package.json').version } catch { '' }")"
if [ -f "$stamp" ] && [ "$stamp" -nt "$node_dir/package-lock.json" ] && [ "$installed" = "$wanted" ]; then
    say "node-soap $installed (node $(node --version)): present"
else
    say "npm ci in $node_dir"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    installed="$(cd "$node_dir" && node -p "require('soap/package.json').version")"
    [ "$installed" = "$wanted" ] || die "node-soap $installed installed, package.json pins $wanted"
    say "node-soap $installed (node $(node --version)): installed"
fi

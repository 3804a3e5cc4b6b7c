#!/usr/bin/env bash
# Builds the gSOAP interop client from the WSDLs a running wsrf-uws service publishes.
#
# Usage: build.sh STEPS_ENDPOINT ADQL_ENDPOINT OUTDIR
#        (e.g. http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql /tmp/gsoap)
#
# Needs Debian's gsoap (wsdl2h, soapcpp2), libgsoap-dev (stdsoap2.h, libgsoap++, the plugin
# sources in /usr/share/gsoap/plugin, the import headers in /usr/share/gsoap/import) and g++.
# Downloads nothing: wsdl2h reads ENDPOINT?wsdl and the schemas it imports from the service.
#
# Steps and the options used (docs/clients/cpp.md explains each):
#   wsdl2h -o uws.h STEPS?wsdl ADQL?wsdl
#       default options; both contracts in one header (gSOAP's way: one soap context, one
#       namespace table, the shared core/WS-RF types once; one proxy class per binding).
#   cat uws.h resourceid.h | soapcpp2 -j -C -x -I/usr/share/gsoap/import
#       -j  proxy classes that share one soap context (gSOAP's recommended C++ proxies)
#       -C  client side only;  -x  no sample XML messages;  -I  where gSOAP's #import files are
#       resourceid.h adds the uwscore:ResourceId header block (see that file for why).
#   g++ -DWITH_IPV6 -DWITH_DOM -I OUTDIR -I /usr/share/gsoap/plugin ... -lgsoap++
#       -DWITH_IPV6 -DWITH_DOM: the flags libgsoap++ was built with, as its gsoap++.pc says
#       (struct soap's layout depends on them; WITH_DOM is also what the DOM API needs). The wsa plugin
#       (wsaapi.c) is compiled in as C++ (g++ treats .c as C++; it includes the generated soapH.h,
#       which is C++), with -I OUTDIR for soapH.h and -I /usr/share/gsoap/plugin for wsaapi.h.
#       No -D is needed for the plugin: SOAP_WSA_2005 comes from wsa5.h via soapStub.h.
#
# UWS_ADDRESSING=2004-08 builds from ENDPOINT?wsdl&addressing=2004-08 instead (the same contract
# for WS-Addressing 2004/08 member-submission clients: wsdl2h then #imports wsa.h, not wsa5.h)
# with resourceid-2004-08.h. CI uses the default (WS-Addressing 1.0).
#
# Logs of every tool are kept in OUTDIR/*.log; on failure the failing tool's output is printed.
# Warnings the tools printed are repeated at the end.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 STEPS_ENDPOINT ADQL_ENDPOINT OUTDIR" >&2
    exit 2
fi
steps=${1%/}
adql=${2%/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
import_dir=/usr/share/gsoap/import
case ${UWS_ADDRESSING:-2005-08} in
    2005-08) query='?wsdl'; resourceid=$here/resourceid.h ;;
    2004-08) query='?wsdl&addressing=2004-08'; resourceid=$here/resourceid-2004-08.h ;;
    *) echo "build.sh: UWS_ADDRESSING must be 2005-08 (the default) or 2004-08" >&2; exit 2 ;;
esac
plugin_dir=/usr/share/gsoap/plugin

die() { echo "build.sh: $*" >&2; exit 1; }

for tool in wsdl2h soapcpp2 g++; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install gsoap libgsoap-dev g++)"
done
[[ -f $import_dir/wsa5.h ]] || die "$import_dir/wsa5.h not found (apt-get install libgsoap-dev)"
[[ -f $plugin_dir/wsaapi.c ]] || die "$plugin_dir/wsaapi.c not found (apt-get install libgsoap-dev)"

# The compile and link flags libgsoap-dev declares in gsoap++.pc: pkg-config when installed,
# else read from the .pc file itself (Debian's says -DWITH_IPV6 -DWITH_DOM and -lgsoap++).
if command -v pkg-config >/dev/null && pkg-config --exists gsoap++; then
    gsoap_cflags=$(pkg-config --cflags gsoap++)
    gsoap_libs=$(pkg-config --libs gsoap++)
else
    pc=$(compgen -G '/usr/lib/*/pkgconfig/gsoap++.pc' | head -n 1 || true)
    [[ -n $pc ]] || die "gsoap++.pc not found (apt-get install libgsoap-dev)"
    gsoap_cflags=$(sed -n 's/^Cflags:[[:space:]]*//p' "$pc" | tr ' ' '\n' | grep '^-D' | tr '\n' ' ')
    gsoap_libs=-lgsoap++
fi

mkdir -p "$3"
out=$(cd "$3" && pwd)
cd "$out"
# wsdl2h would read a typemap.dat in the current directory instead of gSOAP's default one.
[[ ! -e typemap.dat ]] || die "$out/typemap.dat exists: this build uses gSOAP's default typemap only"
# Only what this script writes.
rm -f uws.h soapStub.h soapH.h soapC.cpp soap*Proxy.h soap*Proxy.cpp ./*.nsmap operations.h \
      ./*.o uws_client wsdl2h.log soapcpp2.log g++.log

# run LOG COMMAND...: runs COMMAND with its output in LOG; prints LOG and fails if it fails.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        die "failed: $*"
    fi
}

# 1. wsdl2h: the annotated interface header, from the served WSDLs.
run wsdl2h.log wsdl2h -o uws.h "$steps$query" "$adql$query"

# resourceid.h and the client use the names wsdl2h gives by default: ns1 must be the core
# namespace, ns5 the steps contract, ns6 the adql contract.
for binding in 'ns1:urn:wsrf-uws:core:v1' 'ns5:urn:wsrf-uws:steps:v1' 'ns6:urn:wsrf-uws:adql:v1'; do
    prefix=${binding%%:*}
    uri=${binding#*:}
    grep -Eq "^//gsoap $prefix +schema namespace:[[:space:]]+$uri\$" uws.h \
        || die "wsdl2h did not bind $prefix to $uri (see $out/uws.h, 'Schema Namespaces')"
done

# 2. soapcpp2: the serializers and the two proxies, from uws.h plus resourceid.h (on stdin).
if ! cat uws.h "$resourceid" | soapcpp2 -j -C -x -I"$import_dir" >soapcpp2.log 2>&1; then
    cat soapcpp2.log >&2
    die "failed: cat uws.h $(basename "$resourceid") | soapcpp2 -j -C -x -I$import_dir"
fi
for f in soapStepsSoapBindingProxy.cpp soapAdqlSoapBindingProxy.cpp StepsSoapBinding.nsmap; do
    [[ -f $f ]] || die "soapcpp2 did not write $f (see $out/soapcpp2.log)"
done

# operations.h: each proxy's operations and the action soapcpp2 compiled in (the binding's
# soapAction, which this service makes equal to the wsam:Action), read off the proxy sources.
operations() {  # CLASS FILE
    awk -v cls="$1" '
        index($0, "int " cls "::send_") == 1 {
            name = substr($0, length("int " cls "::send_") + 1); sub(/\(.*/, "", name)
        }
        name != "" && /soap_action = "/ {
            action = $0; sub(/.*soap_action = "/, "", action); sub(/";.*/, "", action)
            printf "    {\"%s\", \"%s\"},\n", name, action; name = ""
        }' "$2"
}
{
    echo "// Written by build.sh from the soapcpp2 proxies: each operation and its action."
    echo "struct ProxyOperation { const char *name; const char *action; };"
    echo "static const ProxyOperation STEPS_OPERATIONS[] = {"
    operations StepsSoapBindingProxy soapStepsSoapBindingProxy.cpp
    echo "    {nullptr, nullptr}};"
    echo "static const ProxyOperation ADQL_OPERATIONS[] = {"
    operations AdqlSoapBindingProxy soapAdqlSoapBindingProxy.cpp
    echo "    {nullptr, nullptr}};"
} >operations.h
grep -q '"createJob"' operations.h || die "no operations found in the generated proxies (see $out/operations.h)"

# 3. g++: generated code, the wsa plugin, the client; linked with libgsoap++.
read -r -a gsoap_flags <<<"$gsoap_cflags"
read -r -a gsoap_libs <<<"$gsoap_libs"
cxx=(g++ -std=c++11 -O1 "${gsoap_flags[@]}" -I"$out" -I"$plugin_dir")
: >g++.log
compile() {  # OBJECT SOURCE [EXTRA FLAGS...]
    local object=$1 source=$2
    shift 2
    echo "\$ ${cxx[*]} $* -c $source -o $object" >>g++.log
    if ! "${cxx[@]}" "$@" -c "$source" -o "$object" >>g++.log 2>&1; then
        cat g++.log >&2
        die "failed: ${cxx[*]} $* -c $source"
    fi
}
compile soapC.o soapC.cpp
compile soapStepsSoapBindingProxy.o soapStepsSoapBindingProxy.cpp
compile soapAdqlSoapBindingProxy.o soapAdqlSoapBindingProxy.cpp
compile wsaapi.o "$plugin_dir/wsaapi.c"
compile uws_client.o "$here/uws_client.cpp" -Wall -Wextra
echo "\$ g++ -o uws_client *.o ${gsoap_libs[*]}" >>g++.log
if ! g++ -o uws_client uws_client.o soapC.o soapStepsSoapBindingProxy.o soapAdqlSoapBindingProxy.o \
        wsaapi.o "${gsoap_libs[@]}" >>g++.log 2>&1; then
    cat g++.log >&2
    die "link failed"
fi

# Warnings, if any, repeated (the logs keep everything).
warnings=$(grep -Ei 'warning|note:' wsdl2h.log soapcpp2.log g++.log || true)
if [[ -n $warnings ]]; then
    echo "build.sh: the tools printed:" >&2
    echo "$warnings" >&2
fi
echo "$out/uws_client"

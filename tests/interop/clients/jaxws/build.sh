#!/usr/bin/env bash
# Build the JAX-WS RI interop client from the WSDLs a running server publishes.
#
#   build.sh STEPS_ENDPOINT ADQL_ENDPOINT OUTDIR              stack `jaxws`:   wsimport, no options
#   build.sh STEPS_ENDPOINT ADQL_ENDPOINT OUTDIR --package PKG stack `jaxws-p`: wsimport -p PKG.steps / -p PKG.adql
#
# Needs the Debian packages `jaxws` (wsimport, JAX-WS RI 2.3.0.2) and a JDK (javac; tested
# with openjdk-17-jdk-headless). Downloads nothing but the two WSDLs (and the schemas they
# import) from the endpoints. No bindings files, no -B options.
#
# OUTDIR/classes  what wsimport generated and compiled (sources kept beside the classes)
# OUTDIR/client   the client (JaxwsClient, StepsScenario, AdqlScenario), compiled
# OUTDIR/stack    the stack name run.sh reports
# OUTDIR/*.log    wsimport's and javac's full output
set -euo pipefail

usage() {
    echo "usage: $0 STEPS_ENDPOINT ADQL_ENDPOINT OUTDIR [--package PKG]" >&2
    exit 2
}
[ $# -eq 3 ] || [ $# -eq 5 ] || usage
steps=${1%/}
adql=${2%/}
out=$3
package=
if [ $# -eq 5 ]; then
    [ "$4" = "--package" ] || usage
    package=$5
    [[ $package =~ ^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$ ]] || { echo "bad package name: $package" >&2; exit 2; }
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# jaxws-rt.jar's manifest Class-Path names the rest of the runtime (JAXB, SAAJ, StAX-ex,
# streambuffer, policy, mimepull, ...) by absolute /usr/share/java paths: Debian's wiring.
runtime=/usr/share/java/jaxws-rt.jar

for tool in wsimport javac java; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install jaxws openjdk-17-jdk-headless" >&2; exit 1; }
done
[ -f "$runtime" ] || { echo "$runtime not found: apt-get install jaxws" >&2; exit 1; }

# Start from an empty OUTDIR; only ever delete one that looks like an earlier build.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/stack" ] && [ ! -d "$out/classes" ]; then
    echo "$out exists and is not an earlier build.sh output: refusing to delete it" >&2
    exit 1
fi
rm -rf "$out"
mkdir -p "$out/classes" "$out/client" "$out/src"

# wsimport URL [-p PKG]: fail loudly with wsimport's whole output. wsimport compiles what it
# generates itself (with the JDK's compiler); -keep only keeps the sources for reading.
generate() {
    local name=$1 url=$2
    shift 2
    local log="$out/wsimport-$name.log"
    echo "+ wsimport -keep -d $out/classes${*:+ $*} $url" >&2
    if ! wsimport -keep -d "$out/classes" "$@" "$url" >"$log" 2>&1; then
        cat "$log" >&2
        echo "wsimport failed for $url (full output above, also in $log)" >&2
        exit 1
    fi
    # wsimport exits 0 on warnings: show them.
    if grep -Eiq '^\[?(WARNING|ERROR)|warning:|error:' "$log"; then
        echo "wsimport $url reported:" >&2
        cat "$log" >&2
    fi
}

if [ -z "$package" ]; then
    stack=jaxws
    # No options: each schema namespace becomes its own package; steps and adql share the
    # core, WS-RF, WS-Addressing and UWS packages in one tree.
    generate steps "$steps?wsdl"
    generate adql "$adql?wsdl"
    cp "$here"/JaxwsClient.java "$here"/StepsScenario.java "$here"/AdqlScenario.java "$out/src/"
else
    stack=jaxws-p
    # One package per WSDL (steps and adql both define `job`, `createJob`, ... in their own
    # namespaces, so one package for both would overwrite one contract with the other).
    generate steps "$steps?wsdl" -p "$package.steps"
    generate adql "$adql?wsdl" -p "$package.adql"
    cp "$here"/JaxwsClient.java "$out/src/"
    # The only difference for the client: its `// generated` imports name the one package.
    sed -E "s#^import [A-Za-z0-9_.]+\.\*; +// generated\$#import $package.steps.*;  // generated (-p)#" \
        "$here"/StepsScenario.java >"$out/src/StepsScenario.java"
    sed -E "s#^import [A-Za-z0-9_.]+\.\*; +// generated\$#import $package.adql.*;  // generated (-p)#" \
        "$here"/AdqlScenario.java >"$out/src/AdqlScenario.java"
    for f in StepsScenario AdqlScenario; do
        if grep -E '^import (uws|net|org\.oasis_open)\.' "$out/src/$f.java"; then
            echo "build.sh: the -p rewrite left a namespace-derived import in $f.java" >&2
            exit 1
        fi
    done
fi

echo "+ javac -Xlint:all,-path,-serial -d $out/client -cp $out/classes:$runtime $out/src/*.java" >&2
if ! javac -Xlint:all,-path,-serial -d "$out/client" -cp "$out/classes:$runtime" "$out"/src/*.java \
        >"$out/javac.log" 2>&1; then
    cat "$out/javac.log" >&2
    echo "javac failed (full output above, also in $out/javac.log)" >&2
    exit 1
fi
if [ -s "$out/javac.log" ]; then
    cat "$out/javac.log" >&2
fi
echo "$stack" >"$out/stack"
echo "built stack $stack in $out" >&2

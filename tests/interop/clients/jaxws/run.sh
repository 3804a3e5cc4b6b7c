#!/usr/bin/env bash
# Run the JAX-WS RI interop client that build.sh built in OUTDIR.
#
#   run.sh OUTDIR STEPS_ENDPOINT ADQL_ENDPOINT
#
# Prints the JSON lines on stdout (stack `jaxws` or `jaxws-p`, as built); the RI's own
# logging goes to stderr. Exit status: the client's (0 only when every check passed).
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 OUTDIR STEPS_ENDPOINT ADQL_ENDPOINT" >&2
    exit 2
fi
out=$1
[ -f "$out/stack" ] || { echo "$out is not a build.sh output directory (no $out/stack)" >&2; exit 1; }
runtime=/usr/share/java/jaxws-rt.jar

# Debian's SAAJ API 1.4.0 finds saaj-impl 1.4.1 only through a deprecated services name and
# logs a WARNING for every SOAP message factory it makes; naming the factory with the
# standard property (what the warning asks for) keeps stderr readable. Behaviour is the same.
exec java -Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl \
    -Dinterop.stack="$(cat "$out/stack")" \
    -cp "$out/client:$out/classes:$runtime" JaxwsClient "$2" "$3"

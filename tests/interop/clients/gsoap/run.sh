#!/usr/bin/env bash
# Runs the gSOAP interop client that build.sh built into OUTDIR.
#
# Usage: run.sh OUTDIR STEPS_ENDPOINT ADQL_ENDPOINT
#        (e.g. /tmp/gsoap http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql)
#
# Prints the client's JSON lines (one per step) and exits with its status: 0 only when every
# check passed. The client needs libgsoap++ at run time (Debian: libgsoap-2.8.124, which
# libgsoap-dev depends on).
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 OUTDIR STEPS_ENDPOINT ADQL_ENDPOINT" >&2
    exit 2
fi
client=$1/uws_client
if [[ ! -x $client ]]; then
    echo "run.sh: $client not found: run build.sh STEPS_ENDPOINT ADQL_ENDPOINT $1 first" >&2
    exit 1
fi
exec "$client" "$2" "$3"

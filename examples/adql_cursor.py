"""Run an ADQL query on a wsrf-uws service and page through its result (``adql``).

    python examples/adql_cursor.py [SERVICE_URL] [PAGE_ROWS]

SERVICE_URL is the service's base URL (default ``$WSRF_UWS_URL``, else
http://127.0.0.1:8080, what ``wsrf-uws serve`` uses). The job selects the Hipparcos
stars within 20 degrees of the Galactic centre's direction, brightest first; the result
stays cached on the service, and this script reads it page by page with the contract's
extra operation ``exposeRows`` (PAGE_ROWS rows at a time, default 500), each page a
VOTable in the reply. Then it destroys the job, which deletes the cached result. Exits
with status 0 when the job completes, 1 when it does not.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from astropy.io.votable import parse
from lxml import etree

from wsrf_uws.client import ClientError, Service

ADQL = "urn:wsrf-uws:adql:v1"
VOTABLE = "http://www.ivoa.net/xml/VOTable/v1.3"

QUERY = """
SELECT hip, ra, dec, hpmag
FROM hipparcos.main
WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 266.405, -28.936, 20))
ORDER BY hpmag
"""


def main() -> int:
    default = os.environ.get("WSRF_UWS_URL", "http://127.0.0.1:8080")
    base_url = (sys.argv[1] if len(sys.argv) > 1 else default).rstrip("/")
    page_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    service = Service(base_url, "adql")  # the endpoint {base_url}/uws/adql

    # The query is parsed and checked at createJob: a bad one raises InvalidJobDescription
    # with the line and column, and nothing is created.
    job = service.create(f'<job xmlns="{ADQL}"><query>{QUERY}</query></job>')
    try:
        job.start()
        state = job.wait(timeout=300)
        print(f"job {job.resource_id}: {state.phase}")
        if state.phase != "COMPLETED":
            print(f"the job did not complete: {state.error_message}", file=sys.stderr)
            return 1
        adql_state = job.property(f"{{{ADQL}}}state")[0]
        total = int(adql_state.findtext(f"{{{ADQL}}}rows") or 0)
        columns = [c.get("name") for c in adql_state.iter(f"{{{ADQL}}}column")]
        print(f"{total} rows, columns {', '.join(str(c) for c in columns)}")

        # Rows are numbered from 0; a page is start (inclusive) to end (exclusive).
        seen = 0
        for start in range(0, total, page_rows):
            reply = job.invoke("exposeRows", start=start, end=start + page_rows)
            table = reply.find(f".//{{{VOTABLE}}}VOTABLE")
            assert table is not None
            rows = parse(io.BytesIO(etree.tostring(table))).get_first_table().to_table()
            seen += len(rows)
            first = rows[0]
            print(
                f"rows {start}-{start + len(rows) - 1}: first HIP {first['hip']} "
                f"(Hp {first['hpmag']:.2f})"
            )
        print(f"paged through {seen} of {total} rows")

        # The whole result is also one VOTable file, the job's result "result".
        result = state.result("result")
        if result is not None:
            print(f"whole result: {result.href} ({result.size} bytes)")
        return 0 if seen == total else 1
    finally:
        job.destroy()  # the cached result is deleted on the service


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ClientError, ValueError) as error:  # no service there, a fault, a bad URL
        sys.exit(f"{Path(sys.argv[0]).name}: {error}")

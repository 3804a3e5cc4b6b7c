"""Run astropy's fitsheader on a wsrf-uws service, through the ``cea`` contract.

    python examples/cea_fitsheader.py [SERVICE_URL]

SERVICE_URL is the service's base URL (default ``$WSRF_UWS_URL``, else
http://127.0.0.1:8080, what ``wsrf-uws serve`` uses). The job's FITS file is remote: the
service fetches it from its own demonstration data (``/demo/cea/starfield-a.fits``: a
path without a host is on the service's own public URL, so the job works wherever the
service runs). The header output is kept in-line, so it comes back in the job's
``cea:state`` property, with no download. Exits with status 0 when the job completes, 1
when it does not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wsrf_uws.client import ClientError, Service

CEA = "urn:wsrf-uws:cea:v1"


def main() -> int:
    default = os.environ.get("WSRF_UWS_URL", "http://127.0.0.1:8080")
    base_url = (sys.argv[1] if len(sys.argv) > 1 else default).rstrip("/")
    service = Service(base_url, "cea")  # the endpoint {base_url}/uws/cea

    # One input per occurrence: `keyword` may be given several times (wildcards allowed).
    jdl = f"""<job xmlns="{CEA}">
      <application>fitsheader</application>
      <input name="file" locality="remote">/demo/cea/starfield-a.fits</input>
      <input name="keyword">NAXIS*</input>
      <input name="keyword">CTYPE*</input>
      <output name="header" storage="inline"/>
    </job>"""
    job = service.create(jdl)  # checked at once: a bad parameter raises InvalidJobDescription
    try:
        job.start()
        state = job.wait(timeout=120)  # polls until COMPLETED, ERROR, ABORTED or HELD
        print(f"job {job.resource_id}: {state.phase}")
        if state.phase != "COMPLETED":
            print(f"the job did not complete: {state.error_message}", file=sys.stderr)
            return 1

        # The contract's own property: the application and its parameter list.
        cea_state = job.property(f"{{{CEA}}}state")[0]
        header = cea_state.findtext(f"{{{CEA}}}output[@name='header']/{{{CEA}}}value")
        print(header, end="")
        print(f"exit status: {cea_state.findtext(f'{{{CEA}}}exitStatus')}")

        # Files kept by the job: the fetched input, stdout.txt and stderr.txt.
        for result in state.results:
            print(f"result {result.name} ({result.size} bytes): {result.href}")
        return 0
    finally:
        job.destroy()  # the job's folder and results go with it


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ClientError, ValueError) as error:  # no service there, a fault, a bad URL
        sys.exit(f"{Path(sys.argv[0]).name}: {error}")

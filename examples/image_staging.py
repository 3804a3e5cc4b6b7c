"""Stage image cutouts on a wsrf-uws service and download them as they appear (``image``).

    python examples/image_staging.py [SERVICE_URL] [FOLDER]

SERVICE_URL is the service's base URL (default ``$WSRF_UWS_URL``, else
http://127.0.0.1:8080, what ``wsrf-uws serve`` uses); FOLDER receives the images
(default ./cutouts). The job asks for twelve 3-arcminute cutouts around the
demonstration archive's centre (RA 150.1, Dec 2.2) in band r, plus one field off the
archive, with progressive staging: the job state's VOTable gains a row as each image is
ready, and this script downloads each one as soon as it is listed. Then it destroys the
job, which deletes the staged images on the service. Exits with status 0 when the job
completes, 1 when it does not.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from astropy.io.votable import parse
from lxml import etree

from wsrf_uws.client import ClientError, Service

IMAGE = "urn:wsrf-uws:image:v1"
VOTABLE = "http://www.ivoa.net/xml/VOTable/v1.3"


def fields() -> str:
    """Twelve fields on a ring around the archive's centre, and one far away."""
    parts = []
    for n in range(12):
        ra, dec = 150.1 + 0.25 * ((n % 4) - 1.5), 2.2 + 0.25 * ((n // 4) - 1)
        parts.append(
            f'<field id="ring{n:02d}"><position ra="{ra:.4f}" dec="{dec:.4f}"/>'
            '<size width="0.05" height="0.05"/></field>'
        )
    parts.append(
        '<field id="andromeda"><position ra="10.6847" dec="41.2690"/>'
        '<size width="0.05" height="0.05"/></field>'
    )
    return "\n".join(parts)


def main() -> int:
    default = os.environ.get("WSRF_UWS_URL", "http://127.0.0.1:8080")
    base_url = (sys.argv[1] if len(sys.argv) > 1 else default).rstrip("/")
    folder = Path(sys.argv[2] if len(sys.argv) > 2 else "cutouts")
    folder.mkdir(parents=True, exist_ok=True)
    service = Service(base_url, "image")  # the endpoint {base_url}/uws/image

    jdl = f"""<job xmlns="{IMAGE}">
      <mode>cutout</mode>
      <band>r</band>
      <progressive>true</progressive>
      {fields()}
    </job>"""
    job = service.create(jdl)  # planned at once: the quote counts the images to come
    try:
        print(f"job {job.resource_id}: {job.state.estimated_cost.get('images', 0):.0f} images")
        job.start()
        fetched: set[str] = set()
        while True:
            state = job.state  # one GetResourceProperty: phase, results and the image table
            image_state = state.contract
            assert image_state is not None
            table = image_state.find(f"{{{IMAGE}}}images/{{{VOTABLE}}}VOTABLE")
            rows = parse(io.BytesIO(etree.tostring(table))).get_first_table().to_table()
            for row in rows:
                name = str(row["access_url"]).rsplit("/", 1)[-1]
                if name not in fetched:
                    size = job.download(name, folder / name)
                    fetched.add(name)
                    print(f"{row['target_name']}: {name} ({size} bytes, {row['s_fov']:.3f} deg)")
            if state.phase in ("COMPLETED", "ERROR", "ABORTED", "HELD"):
                break
            time.sleep(0.2)
        for uncovered in image_state.findall(f"{{{IMAGE}}}uncovered"):
            print(f"{uncovered.get('field')}: {uncovered.text}")
        print(f"job {job.resource_id}: {state.phase}, {len(fetched)} images in {folder}/")
        return 0 if state.phase == "COMPLETED" else 1
    finally:
        job.destroy()  # the staged images are deleted on the service


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ClientError, ValueError) as error:  # no service there, a fault, a bad URL
        sys.exit(f"{Path(sys.argv[0]).name}: {error}")

"""The image job state as the store keeps it: a state stored before it was a dataclass reads
back to the same JSON, a job quoted before quotes were kept still loads, and the
``image:state`` element shows the uncovered fields and only the announced images."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core.model import Job, Result
from wsrf_uws.core.phases import Phase
from wsrf_uws.jdl.image.state import (
    ROWS_FILE,
    ImageState,
    UncoveredField,
    staged_rows,
    state_element,
)

IMAGE = "urn:wsrf-uws:image:v1"

#: A state as createJob stored it before the dataclass.
STORED: dict[str, Any] = {
    "mode": "mosaic",
    "fields": 3,
    "expected": 2,
    "quoted_bytes": 2_113_920,
    "uncovered": [
        {
            "field": "far",
            "ra": 10.5,
            "dec": -45.25,
            "reason": "no frame of the archive overlaps this field",
        }
    ],
}


def test_a_stored_state_reads_back_to_the_same_json() -> None:
    state = ImageState.from_dict(json.loads(json.dumps(STORED)))
    assert json.dumps(state.to_dict()) == json.dumps(STORED)
    assert state.uncovered == (
        UncoveredField("far", 10.5, -45.25, "no frame of the archive overlaps this field"),
    )


def test_a_job_quoted_before_quotes_were_kept_still_loads() -> None:
    older = {key: value for key, value in STORED.items() if key != "quoted_bytes"}
    state = ImageState.from_dict(older)
    assert state.quoted_bytes is None
    assert state.to_dict() == older


@pytest.fixture
def staged_job(tmp_path: Path) -> Job:
    """A job with two rows in its rows file, only the first image announced."""
    rows = [{"result": "0001-a.fits", "obs_id": "a"}, {"result": "0002-b.fits", "obs_id": "b"}]
    text = "".join(json.dumps(row) + "\n" for row in rows) + '{"result": "0003'  # being written
    (tmp_path / ROWS_FILE).write_text(text, encoding="utf-8")
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return Job(
        resource_id="abc",
        contract="image",
        owner="anonymous",
        phase=Phase.EXECUTING,
        creation_time=now,
        termination_time=now + timedelta(days=1),
        execution_duration=0,
        jdl=b"",
        address="http://service.example/uws/image/abc",
        results=(Result("0001-a.fits", "0001-a.fits", "image/fits", 2880),),
        jdl_state=STORED,
    )


def test_only_rows_of_announced_images_count(staged_job: Job, tmp_path: Path) -> None:
    rows = staged_rows(tmp_path, announced={r.name for r in staged_job.results})
    assert [row["obs_id"] for row in rows] == ["a"]
    assert staged_rows(tmp_path / "nowhere", announced={"0001-a.fits"}) == []


def test_the_element_shows_counts_and_uncovered_fields(staged_job: Job, tmp_path: Path) -> None:
    element = state_element(
        staged_job, workdir=tmp_path, result_url=lambda r: f"http://x/results/abc/{r.name}"
    )
    texts = {child.tag.split("}")[1]: child.text for child in element}
    assert texts["mode"] == "mosaic"
    assert (texts["fields"], texts["expected"], texts["staged"]) == ("3", "2", "1")
    uncovered = element.find(f"{{{IMAGE}}}uncovered")
    assert uncovered is not None
    assert dict(uncovered.attrib) == {"field": "far", "ra": "10.5", "dec": "-45.25"}
    assert uncovered.text == "no frame of the archive overlaps this field"

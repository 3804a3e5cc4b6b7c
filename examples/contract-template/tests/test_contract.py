"""The contract in a service on a temporary folder, with real worker processes."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
from lxml import etree
from uws_template.contract import MANIFEST, NAMESPACE, ChecksumContract, ChecksumJob

from wsrf_uws.core.errors import (
    InvalidJobDescriptionError,
    InvalidPhaseError,
    QuotaExceededError,
)
from wsrf_uws.core.phases import Phase
from wsrf_uws.testing import build_test_service, contract_environment, wait_for_job

from conftest import jdl

DEMO = "http://127.0.0.1:8080/demo/checksum/"
STARS = Path(ChecksumContract.demo_data or "") / "stars.csv"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


@pytest.fixture
def contract(tmp_path: Path) -> ChecksumContract:
    """The contract as a service with default settings would build it."""
    return ChecksumContract(contract_environment(ChecksumContract, tmp_path))


def test_a_job_digests_texts_and_demo_files(tmp_path: Path) -> None:
    document = jdl(texts={"a.txt": "hello", "b.txt": "héllo"}, urls=(DEMO + "stars.csv",))
    with build_test_service(tmp_path, contracts=[ChecksumContract]) as service:
        job = service.create_job(contract="checksum", document=document)
        size = 5 + 6 + STARS.stat().st_size
        assert job.jdl_state == {"algorithm": "sha256", "inputs": 3, "bytes": size, "digested": 0}
        assert job.quote.cost == {"bytes": float(size)}
        service.start_job(job.resource_id, owner="anonymous")
        done = wait_for_job(service, job.resource_id)
        assert done.phase is Phase.COMPLETED, done.error
        assert done.jdl_state["digested"] == 3
        assert done.progress.fraction == 1.0
        assert [step.status for step in done.progress.steps] == ["done"] * 3
        manifest = service.files.folder(job.resource_id) / MANIFEST
        assert manifest.read_text() == (
            f"{digest(b'hello')}  a.txt\n"
            f"{digest('héllo'.encode())}  b.txt\n"
            f"{digest(STARS.read_bytes())}  stars.csv\n"
        )
        assert [result.name for result in done.results] == [MANIFEST]


def test_a_demo_file_without_a_host_is_the_services_own(tmp_path: Path) -> None:
    """``/demo/checksum/stars.csv`` works wherever the service runs (examples/job.xml)."""
    with build_test_service(tmp_path, contracts=[ChecksumContract]) as service:
        job = service.create_job(
            contract="checksum", document=jdl(urls=("/demo/checksum/stars.csv",))
        )
        assert job.jdl_state["bytes"] == STARS.stat().st_size
        sample = (Path(__file__).parents[1] / "examples" / "job.xml").read_bytes()
        assert service.create_job(contract="checksum", document=sample).jdl_state["inputs"] == 3


def test_the_algorithm_is_the_jobs_choice(tmp_path: Path) -> None:
    with build_test_service(tmp_path, contracts=[ChecksumContract]) as service:
        job = service.create_job(
            contract="checksum", document=jdl(texts={"a": "abc"}, algorithm="md5")
        )
        service.start_job(job.resource_id, owner="anonymous")
        assert wait_for_job(service, job.resource_id).phase is Phase.COMPLETED
        manifest = service.files.folder(job.resource_id) / MANIFEST
        assert manifest.read_text() == f"{digest(b'abc', 'md5')}  a\n"


def test_the_settings_section_bounds_the_inputs(tmp_path: Path) -> None:
    service = build_test_service(tmp_path, contracts=[ChecksumContract], checksum={"max_inputs": 2})
    try:
        with pytest.raises(InvalidJobDescriptionError, match="at most 2") as refused:
            service.create_job(
                contract="checksum", document=jdl(texts={"a": "1", "b": "2", "c": "3"})
            )
        assert refused.value.line == 1
        assert service.list_jobs(owner="anonymous") == []
    finally:
        service.shutdown()


def test_a_job_beyond_the_byte_limit_is_over_quota(tmp_path: Path) -> None:
    settings = {"max_input_bytes": 10, "max_job_bytes": 15}
    service = build_test_service(tmp_path, contracts=[ChecksumContract], checksum=settings)
    try:
        with pytest.raises(QuotaExceededError, match="at most 15"):
            service.create_job(
                contract="checksum", document=jdl(texts={"a": "x" * 8, "b": "y" * 8})
            )
        with pytest.raises(InvalidJobDescriptionError, match="at most 10 per input"):
            service.create_job(contract="checksum", document=jdl(texts={"a": "x" * 11}))
    finally:
        service.shutdown()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (jdl(texts={"a": "1"}, algorithm="sha1"), "algorithm 'sha1' is not offered"),
        (jdl(urls=("http://example.org/demo/checksum/stars.csv",)), "not one of this service"),
        (jdl(urls=(DEMO + "missing.csv",)), "no demo file 'missing.csv'"),
        (jdl(urls=(DEMO + "..%2Fsettings.py",)), "no demo file '../settings.py'"),
        (jdl(urls=(DEMO + ".hidden",)), "no demo file '.hidden'"),
        (jdl(texts={"stars.csv": "1"}, urls=(DEMO + "stars.csv",)), "two inputs are named"),
        (jdl(), "Missing child element"),
        (jdl(texts={"../a": "1"}), "not accepted by the pattern"),
        (b'<job xmlns="urn:wsrf-uws:checksum:v1"/>', "expects {urn:wsrf-uws:checksum:v1}"),
    ],
)
def test_invalid_jobs_are_refused(contract: ChecksumContract, document: bytes, reason: str) -> None:
    with pytest.raises(InvalidJobDescriptionError) as refused:
        contract.parse(document)
    assert reason in refused.value.reason


def test_the_description_is_plain_data_that_pickles(contract: ChecksumContract) -> None:
    description = contract.parse(jdl(texts={"a": "1"}, urls=(DEMO + "stars.csv",)))
    assert isinstance(description, ChecksumJob)
    assert pickle.loads(pickle.dumps(description)) == description  # noqa: S301
    assert [item.demo_file for item in description.inputs] == [None, "stars.csv"]


def test_the_state_element_is_valid_against_the_schema(
    contract: ChecksumContract, tmp_path: Path
) -> None:
    with build_test_service(tmp_path, contracts=[contract]) as service:
        job = service.create_job(contract="checksum", document=jdl(texts={"a": "1"}))
        pending = contract.state_element(job, result_url=lambda result: f"http://x/{result.name}")
        assert pending is not None
        contract.schema.assertValid(pending)
        assert pending.find(f"{{{NAMESPACE}}}manifest") is None
        service.start_job(job.resource_id, owner="anonymous")
        done = wait_for_job(service, job.resource_id)
    state = contract.state_element(done, result_url=lambda result: f"http://x/{result.name}")
    assert state is not None
    contract.schema.assertValid(state)
    assert state.findtext(f"{{{NAMESPACE}}}manifest") == f"http://x/{MANIFEST}"
    assert etree.QName(state).localname == ChecksumContract.state_name


def test_verify_names_the_inputs_with_a_digest(tmp_path: Path) -> None:
    """The extra operation, called in the service process with a handle on its job."""
    verify = ChecksumContract().extra_operations()["verify"].handler
    with build_test_service(tmp_path, contracts=[ChecksumContract]) as service:
        job = service.create_job(contract="checksum", document=jdl(texts={"a": "x", "b": "y"}))
        request = etree.Element(f"{{{NAMESPACE}}}verify")
        etree.SubElement(request, f"{{{NAMESPACE}}}digest").text = digest(b"y").upper()
        with pytest.raises(InvalidPhaseError):
            verify(service.job_handle(job.resource_id, owner="anonymous"), request)
        service.start_job(job.resource_id, owner="anonymous")
        wait_for_job(service, job.resource_id)
        reply = verify(service.job_handle(job.resource_id, owner="anonymous"), request)
        assert [match.text for match in reply] == ["b"]
        assert service.get_job(job.resource_id, owner="anonymous").jdl_state["verified"] == 1

"""The cea job state as the store keeps it: a state stored before it was a dataclass reads
back to the same JSON, and the runner's changes land where the old dict keys were."""

from __future__ import annotations

import json
from typing import Any

from wsrf_uws.jdl.cea.state import CeaState, ParameterEntry

#: A state as a completed run left it before the dataclass: every kind of entry.
STORED: dict[str, Any] = {
    "application": "kitchen",
    "inputs": [
        {
            "name": "image",
            "type": "FITS",
            "locality": "local",
            "storage": "file",
            "result": "in-image.fits",
        },
        {
            "name": "notes",
            "type": "text",
            "locality": "local",
            "storage": "inline",
            "note": "kept as a file: too large for the job state, or not text",
            "result": "in-notes.txt",
        },
        {
            "name": "tag",
            "type": "text",
            "locality": "remote",
            "storage": "inline",
            "source": "https://a.org/tag.txt",
            "value": "fetched",
        },
        {"name": "empty", "type": "text", "locality": "local", "storage": "inline", "value": ""},
    ],
    "outputs": [
        {
            "name": "result",
            "type": "text",
            "storage": "file",
            "note": "the application did not produce this output",
        },
        {
            "name": "said",
            "type": "text",
            "storage": "inline",
            "destination": "https://b.org/said.txt",
            "delivered": True,
            "value": "hi\n",
        },
        {
            "name": "picture",
            "type": "FITS",
            "storage": "file",
            "destination": "https://b.org/p.fits",
            "delivered": False,
            "result": "picture.fits",
        },
    ],
    "exitStatus": -9,
}


def test_a_stored_state_reads_back_to_the_same_json() -> None:
    state = CeaState.from_dict(json.loads(json.dumps(STORED)))
    # Entries are written in one key order; the store reads JSON objects by key.
    assert state.to_dict() == STORED


def test_the_dataclass_holds_what_the_json_says() -> None:
    state = CeaState.from_dict(STORED)
    assert state.exit_status == -9
    notes, tag, empty = state.inputs[1], state.inputs[2], state.inputs[3]
    assert (notes.value, notes.result) == (None, "in-notes.txt")
    assert notes.note is not None
    assert (tag.source, tag.value) == ("https://a.org/tag.txt", "fetched")
    assert empty.value == ""  # an empty in-line value is a value, not an absent one
    said = state.outputs[1]
    assert (said.destination, said.delivered) == ("https://b.org/said.txt", True)


def test_a_state_before_any_run_reads_back_without_additions() -> None:
    stored = {
        "application": "bare",
        "inputs": [],
        "outputs": [{"name": "result", "type": "text", "storage": "file"}],
    }
    state = CeaState.from_dict(stored)
    assert state.exit_status is None
    assert state.to_dict() == stored
    assert "delivered" not in state.outputs[0].to_dict()


def test_changes_to_an_entry_show_in_the_json() -> None:
    entry = ParameterEntry(name="said", type="text", storage="inline", destination="https://b/")
    assert entry.to_dict()["delivered"] is False
    entry.value = "hi"
    entry.delivered = True
    assert entry.to_dict() == {
        "name": "said",
        "type": "text",
        "storage": "inline",
        "value": "hi",
        "destination": "https://b/",
        "delivered": True,
    }


def test_reading_a_state_copies_it() -> None:
    stored = json.loads(json.dumps(STORED))
    state = CeaState.from_dict(stored)
    state.outputs[0].result = "result.txt"
    state.exit_status = None
    assert stored == STORED  # the job's recorded state is not changed behind its back

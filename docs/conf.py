"""Sphinx configuration of the wsrf-uws documentation (``sphinx-build -W docs docs/_build``).

The pages are MyST Markdown, so they read well on a forge too; the configuration reference
is generated from the settings models by the local extension ``_ext/settings_reference.py``,
and the client's API reference by autodoc, so neither can drift from the code.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "wsrf-uws"
author = "wsrf-uws developers"
release = installed_version("wsrf-uws")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "settings_reference",
    "source_links",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]

# Headings get anchors as GitHub makes them, so `page.md#a-heading` links work in both.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"wsrf-uws {release}"

# Links to files of the repository outside docs/ go to the forge's view of the tree when
# this is set (".../blob/main", say), else they show the path.
source_url = os.environ.get("WSRF_UWS_DOCS_SOURCE_URL", "")

"""Sphinx extension: Markdown links from the docs to files of the repository.

The pages link to the source tree (``../bench/README.md``, ``../wsdl``), which reads well
on a forge but is outside what Sphinx builds. A link that names an existing file or folder
of the repository outside ``docs/`` becomes a link to ``source_url/{path}`` when the
configuration value ``source_url`` is set (the forge's view of the tree), else the path
itself in code type. A link to a folder of ``docs/`` goes to that folder's ``index``
page. A link to nothing that exists is left alone, so MyST still reports it as broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform


def repository_root(app: Sphinx) -> Path:
    """The repository: the folder above ``docs/``."""
    return Path(app.srcdir).resolve().parent


class SourceLinks(SphinxPostTransform):
    """Resolve links to repository files before MyST's resolver warns about them."""

    # Before MyST's resolver (9) and Sphinx's own (10).
    default_priority = 8

    def run(self, **kwargs: Any) -> None:
        srcdir = Path(self.app.srcdir).resolve()
        root = repository_root(self.app)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            target = self.target_path(node, srcdir)
            if target is None or not target.exists():
                continue
            if target.is_relative_to(srcdir):
                index = target / "index.md"
                if target.is_dir() and index.is_file():
                    node["refdomain"] = "doc"
                    node["reftarget"] = index.relative_to(srcdir).with_suffix("").as_posix()
                    node["reftargetid"] = None
                continue
            if not target.is_relative_to(root):
                continue
            node.replace_self(self.source_link(node, target.relative_to(root).as_posix()))

    def target_path(self, node: addnodes.pending_xref, srcdir: Path) -> Path | None:
        """The file or folder a link names, or None when it names no path."""
        target = str(node.get("reftarget", ""))
        if not target:
            return None
        if node.get("refdomain") == "doc":
            # MyST made a document name of a Markdown file: absolute when outside docs/.
            path = Path(target) if Path(target).is_absolute() else srcdir / target
            return (path.parent / (path.name + ".md")).resolve()
        refdoc = Path(str(node.get("refdoc", self.env.docname)))
        return (srcdir / refdoc.parent / target.split("#", 1)[0]).resolve()

    def source_link(self, node: addnodes.pending_xref, path: str) -> nodes.Node:
        """A link to ``path`` on the forge, or the path in code type."""
        base = str(self.config.source_url).rstrip("/")
        text = node.astext() or path
        if base:
            reference = nodes.reference("", "", refuri=f"{base}/{path}")
            reference += nodes.inline(text, text)
            return reference
        if text.strip("`/") == path.strip("/"):
            return nodes.literal(path, path)
        inline = nodes.inline()
        inline += nodes.Text(f"{text} (")
        inline += nodes.literal(path, path)
        inline += nodes.Text(")")
        return inline


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the post-transform and its ``source_url`` setting."""
    app.add_config_value("source_url", "", "html", types=[str])
    app.add_post_transform(SourceLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

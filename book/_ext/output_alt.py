"""Sphinx extension: a notebook image output's alt text from its output metadata.

The book's figures carry their alt text in the output's metadata (``{"image/png": {"alt": ...}}``, set by
:func:`cnnbook.book.alt_text.describe`). myst-nb takes an image's alt only from the cell's metadata
(``mystnb: image: alt``, one text for every image of the cell) and reads just ``width`` and ``height``
from the output's, so without this every generated figure's ``<img alt>`` was its file path. An alt set
in the cell's metadata still wins.
"""

import functools

from myst_nb.core.render import NbElementRenderer


def _with_output_alt(render_image):
    @functools.wraps(render_image)
    def render(self, data):
        nodes = render_image(self, data)
        alt = data.output_metadata.get(data.mime_type, {}).get("alt")
        if alt:
            for node in nodes:
                node.setdefault("alt", str(alt))
        return nodes

    render.takes_output_alt = True
    return render


def setup(app):
    if not getattr(NbElementRenderer.render_image, "takes_output_alt", False):  # once, however often set up
        NbElementRenderer.render_image = _with_output_alt(NbElementRenderer.render_image)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

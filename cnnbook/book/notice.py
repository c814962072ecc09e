"""Notices on a page: a cell that could not run where the page was built says so in one admonition."""

from __future__ import annotations

import html


class Notice:
    """An admonition: rendered as the site's note box in HTML (JupyterLab and the built book), as
    two plain lines elsewhere."""

    def __init__(self, title: str, text: str) -> None:
        self.title, self.text = title, text

    def _repr_html_(self) -> str:
        # its own colours: an output box keeps light-mode text colours in the site's dark mode
        colours = "color: #1b1f24; background-color: #eef4fb"
        return (
            f'<div class="admonition note" style="{colours}"><p class="admonition-title">{html.escape(self.title)}</p>'
            f'<p style="{colours}">{html.escape(self.text)}</p></div>'
        )

    def __repr__(self) -> str:
        return f"{self.title}: {self.text}"


def needs_network(what: str, result: str) -> Notice:
    """The notice for a cell that downloads ``what`` and could not reach the network: what it shows
    when it can (``result``). Display it as a cell's last value, or with ``IPython.display.display``."""
    return Notice(
        "Needs the network",
        f"This cell downloads {what}, which was not reachable where this page was built. "
        f"Run it with network access and it shows {result}.",
    )


class Provenance:
    """Where a stored run was made, folded into one line a reader can open: machine, number format,
    minutes and code version (HTML ``<details>``; one plain line elsewhere)."""

    def __init__(self, provenance: dict) -> None:
        p = provenance
        self.text = (
            f"trained on {p.get('device_name', '?')} ({p.get('device', '?')}, {p.get('precision', '?')}, "
            f"{p.get('threads', '?')} threads) in {p.get('wall_minutes', 0):.1f} min, budget {p.get('budget', '?')!r}, "
            f"torch {p.get('torch', '?')}, code version {(p.get('git_commit') or 'unknown')[:7]}"
        )

    def _repr_html_(self) -> str:
        return f'<details class="provenance"><summary>Provenance</summary><p>{html.escape(self.text)}</p></details>'

    def __repr__(self) -> str:
        return f"Provenance: {self.text}"

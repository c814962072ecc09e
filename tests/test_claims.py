"""The chapters' prose claims (cnnbook.book.claims) against the stored runs and the chapters' text."""

import json
import re
from pathlib import Path

from cnnbook.book.claims import Runs, all_claims, failing

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def markdown(chapter: str) -> str:
    """A chapter's Markdown cells, with line breaks and repeated spaces folded to one space."""
    cells = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text())["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.sub(r"\s+", " ", text)


def test_every_claim_stands_word_for_word_in_its_chapter():
    claims = all_claims()
    assert claims, "no claim is registered"
    for c in claims:
        assert re.sub(r"\s+", " ", c.sentence) in markdown(c.chapter), f"{c.chapter}: not on the page: {c.sentence}"


def test_every_claim_holds_on_the_stored_runs_of_the_default_budget():
    assert failing(Runs("quick")) == []

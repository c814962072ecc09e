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


def test_a_claim_fails_naming_its_sentence_when_a_stored_number_flips(tmp_path):
    """A copy of the stored degradation runs in which Plain-56 fits its images as well as Plain-20."""
    results = Path(__file__).parent.parent / "cnnbook" / "results"
    for folder in (results / "quick").glob("side-plain*"):
        copy = tmp_path / "quick" / folder.name
        copy.mkdir(parents=True)
        for name in ("history.json", "provenance.json"):
            (copy / name).write_bytes((folder / name).read_bytes())
    assert failing_for(tmp_path, "01b_depth") == []
    for history in (tmp_path / "quick").glob("side-plain56*/history.json"):
        record = json.loads(history.read_text())
        record["records"][-1]["train_acc"] = 0.99  # Plain-56 now ends below Plain-20
        history.write_text(json.dumps(record))
    failed = failing_for(tmp_path, "01b_depth")
    assert len(failed) == 1 and "Plain-56 ends far above Plain-20" in failed[0]


def failing_for(results: Path, chapter: str) -> list[str]:
    return [line for line in failing(Runs("quick", results)) if line.startswith(chapter)]

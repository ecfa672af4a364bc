"""The whole configuration of one process: the core settings and every package's, read once.

`lrs.cli.main` reads it from the environment (`Config.from_env()`) and hands it to the command
it runs; `lrs.app.create_app(config)` builds the app from it and reads nothing else. Tests build
one directly: `Config(core=Settings(data_dir=tmp_path))` takes every package's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from console.settings import ConsoleSettings
from lrs.env import Env
from lrs.settings import Settings
from lti.settings import LTISettings
from projections.settings import ProjectionSettings
from scorm_adapter.settings import ScormSettings


@dataclass(frozen=True)
class Config:
    """The core settings, and the LTI, SCORM, marketplace and console settings beside them."""

    core: Settings = field(default_factory=Settings)
    lti: LTISettings = field(default_factory=LTISettings)
    scorm: ScormSettings = field(default_factory=ScormSettings)
    projection: ProjectionSettings = field(default_factory=ProjectionSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Every package's settings from one snapshot of the environment; ConfigError if bad."""
        values = Env(environ).snapshot()
        return cls(
            core=Settings.from_env(values),
            lti=LTISettings.from_env(values),
            scorm=ScormSettings.from_env(values),
            projection=ProjectionSettings.from_env(values),
            console=ConsoleSettings.from_env(values),
        )

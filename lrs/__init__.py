"""An xAPI Learning Record Store with a talent-marketplace projection."""

__version__ = "0.1.0"

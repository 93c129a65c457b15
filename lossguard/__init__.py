"""lossguard: static analysis for machine-learning loss code."""

__version__ = "0.1.0"

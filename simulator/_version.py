"""vmsim's version (a leaf: importable from anywhere without a cycle)."""

__version__ = "0.1.0"

"""Fixtures shared by every test directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """Write a (dedented) scenario text into tmp_path; returns its path."""
    def _write(text: str, name: str = "x.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text))
        return p
    return _write

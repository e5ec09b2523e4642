"""The suite runs every app's tests: `make test` collects from pytest.ini's testpaths only, so an app whose
tests are not listed there would pass CI without a single one of them running."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_with_tests_is_in_testpaths():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    testpaths = set(ini["pytest"]["testpaths"].split())
    with_tests = {path.parent.parent.name for path in ROOT.glob("*/tests/__init__.py")}
    assert with_tests, "no tests package found: the layout changed"
    assert with_tests <= testpaths, f"tests outside pytest.ini's testpaths: {sorted(with_tests - testpaths)}"

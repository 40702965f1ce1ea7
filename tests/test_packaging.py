"""The package as people install and cite it: LICENSE, CITATION.cff, and a wheel that holds
every file under pointgan_cli (package data grows: templates, the report's assets...)."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_is_the_mit_text_pyproject_declares():
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text


def test_citation_cff_is_valid_and_names_this_version():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    for key in ("cff-version", "message", "title", "authors", "version", "date-released"):
        assert cff.get(key), key
    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == PYPROJECT["version"]
    assert isinstance(cff["date-released"], datetime.date)
    assert cff["license"] == "MIT"
    for author in cff["authors"]:  # a person (family-names) or an entity (name)
        assert author.get("name") or author.get("family-names")


def _package_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "pointgan_cli").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def test_wheel_holds_every_file_under_the_package(tmp_path):
    """Built from a copy of the tree with a probe asset of a kind the package has not shipped
    yet (in a folder without __init__.py), so the wheel's file list cannot lag behind."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "pointgan_cli", src / "pointgan_cli",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    probe = src / "pointgan_cli" / "report" / "assets-probe" / "probe.weird-ext"
    probe.parent.mkdir()
    probe.write_text("probe\n")
    out = tmp_path / "dist"
    code = ("import sys; from setuptools import build_meta as b; "
            "print(b.build_wheel(sys.argv[1]))")
    subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, check=True,
                   capture_output=True, text=True, timeout=300)
    wheel = next(out.glob("pointgan-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = _package_files(src)
    assert "pointgan_cli/report/assets-probe/probe.weird-ext" in wanted
    assert wanted <= names, sorted(wanted - names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert any(n.endswith("/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)

"""The reproducible Lambda bundles: same sources, same bytes; stale zips are caught and named."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from scripts import bundle


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    lambdas = tmp_path / "lambdas"
    for package, files in {
        "fn": {"__init__.py": "", "handler.py": "def lambda_handler(e, c):\n    return e\n"},
        "core": {"__init__.py": "", "util.py": "X = 1\n", "sub/__init__.py": "", "sub/deep.py": "Y = 2\n"},
    }.items():
        for name, text in files.items():
            path = lambdas / package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    # Leftovers that must never reach a bundle.
    (lambdas / "core" / "__pycache__").mkdir()
    (lambdas / "core" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\x00pyc")
    (lambdas / "core" / "util.pyc").write_bytes(b"\x00pyc")
    (lambdas / "core" / ".hidden").mkdir()
    (lambdas / "core" / ".hidden" / "x.py").write_text("secret = 1\n")
    (lambdas / "core" / "notes.txt").write_text("scratch\n")
    return lambdas


def test_the_zip_is_sorted_dated_1980_mode_0644_and_holds_only_sources(sources: Path) -> None:
    data = bundle.build(["fn", "core"], sources)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [
            "core/__init__.py",
            "core/sub/__init__.py",
            "core/sub/deep.py",
            "core/util.py",
            "fn/__init__.py",
            "fn/handler.py",
        ]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.create_system == 3
            assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read("fn/handler.py") == (sources / "fn" / "handler.py").read_bytes()


def test_same_sources_give_the_same_bytes_whatever_the_file_times(sources: Path) -> None:
    first = bundle.build(["fn", "core"], sources)
    for path in sources.rglob("*.py"):
        path.touch()
    (sources / "core" / "util.py").chmod(0o755)
    assert bundle.build(["core", "fn"], sources) == first


def test_check_names_the_stale_and_the_missing_zip(sources: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    functions = {"fn": ("fn", "core"), "other": ("core",)}
    assert bundle.write_all(dist, sources, functions) == [dist / "fn.zip", dist / "other.zip"]
    assert bundle.stale(dist, sources, functions) == []
    assert bundle.write_all(dist, sources, functions) == [], "unchanged zips are not rewritten"

    (sources / "core" / "util.py").write_text("X = 2\n")
    (dist / "other.zip").unlink()
    problems = bundle.stale(dist, sources, functions)
    assert len(problems) == 2
    assert "fn.zip is stale" in problems[0]
    assert "other.zip is missing" in problems[1]


def test_a_directory_without_init_is_refused(tmp_path: Path) -> None:
    (tmp_path / "loose").mkdir()
    with pytest.raises(FileNotFoundError, match="not a Python package"):
        bundle.build(["loose"], tmp_path)


def test_the_checked_in_bundles_match_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    """The CI gate: editing a Lambda without `make bundle` fails here, naming the zip."""
    assert bundle.main(["--check"]) == 0, capsys.readouterr().err

"""Build the Lambda deployment packages reproducibly: lambdas/dist/<function>.zip.

The same sources give the same bytes on every machine, so the zips can be checked in and their hash fed to
``source_code_hash`` without the ``archive`` provider (and without its perpetual diffs):
  * entries sorted by path, directories implied (no directory entries),
  * every timestamp 1980-01-01 00:00:00 (the earliest a zip can hold), every file mode 0644, Unix host,
  * stored, not deflated: compressed bytes depend on the zlib build, stored bytes do not (a few KB anyway),
  * only ``*.py`` sources: no __pycache__, .pyc, editor or tool leftovers.

Usage: ``python scripts/bundle.py`` writes the zips that changed; ``--check`` rebuilds in memory and exits 1
naming every zip that differs from its sources.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
DIST = LAMBDAS / "dist"

#: Function name -> the packages (directories under lambdas/) its zip holds. One line per function.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "acquire_lock": ("acquire_lock", "semaphore_core"),
    "sweeper": ("sweeper", "semaphore_core"),
    "queue_acquire": ("queue_acquire", "semaphore_core"),
    "queue_release": ("queue_release", "semaphore_core"),
}

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
UNIX = 3
SOURCE_SUFFIXES = frozenset({".py"})


class StaleBundleError(Exception):
    """A checked-in zip does not match its sources."""


def source_files(package: str, lambdas: Path = LAMBDAS) -> Iterator[tuple[str, Path]]:
    """(path inside the zip, file on disk) for every source file of one package."""
    package_dir = lambdas / package
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir} is not a Python package (no __init__.py)")
    for path in package_dir.rglob("*"):
        relative = path.relative_to(lambdas)
        if not path.is_file() or path.suffix not in SOURCE_SUFFIXES:
            continue
        if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
            continue
        yield relative.as_posix(), path


def build(packages: Sequence[str], lambdas: Path = LAMBDAS) -> bytes:
    """The zip's bytes: a pure function of the packages' source files' names and contents."""
    entries = sorted(entry for package in packages for entry in source_files(package, lambdas))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = UNIX
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def zip_path(function: str, dist: Path = DIST) -> Path:
    return dist / f"{function}.zip"


def write_all(
    dist: Path = DIST, lambdas: Path = LAMBDAS, functions: Mapping[str, Sequence[str]] = FUNCTIONS
) -> list[Path]:
    """Writes every zip whose bytes changed; returns the ones written."""
    dist.mkdir(parents=True, exist_ok=True)
    written = []
    for function, packages in functions.items():
        target = zip_path(function, dist)
        data = build(packages, lambdas)
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
            written.append(target)
    return written


def stale(
    dist: Path = DIST, lambdas: Path = LAMBDAS, functions: Mapping[str, Sequence[str]] = FUNCTIONS
) -> list[str]:
    """One message per zip that is missing or differs from its sources."""
    problems = []
    for function, packages in functions.items():
        target = zip_path(function, dist)
        expected = build(packages, lambdas)
        if not target.is_file():
            problems.append(f"{_display(target)} is missing")
        elif target.read_bytes() != expected:
            problems.append(
                f"{_display(target)} is stale: sha256 {_sha256(target.read_bytes())} on disk,"
                f" {_sha256(expected)} from the sources of {', '.join(packages)}"
            )
    return problems


def _display(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a checked-in zip differs from its sources"
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            print("Run `make bundle` and commit lambdas/dist/.", file=sys.stderr)
            return 1
        print(f"ok  {len(FUNCTIONS)} Lambda bundle(s) match their sources")
        return 0
    written = write_all()
    for function in FUNCTIONS:
        target = zip_path(function)
        state = "written" if target in written else "unchanged"
        print(f"{_display(target)}  sha256 {_sha256(target.read_bytes())}  {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the Inputs, Outputs and Resources tables of a module's README from its .tf files.

terraform-docs is not obtainable offline here, so this does the part we use: it rewrites the text between
``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` in the README.md of the root module, of every
sub-module (``modules/*``) and of every example (``examples/*``), and fails when one of those has no README
with the markers.

    python scripts/tfdocs.py            # rewrite every README that has the markers
    python scripts/tfdocs.py --check    # exit 1 and name the stale READMEs (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted and wraps expressions in ${...}; undo both."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
    return value


def _blocks(module_dir: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for tf in sorted(module_dir.glob("*.tf")):
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get(kind, []):
            for name, body in block.items():
                found.append((_unquote(name), body))
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return "n/a"
    value = body["default"]
    if value is None or value == "null":
        return "`null`"
    value = _unquote(value)
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{json.dumps(value, separators=(',', ':'))}`"


def render(module_dir: Path) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
    variables = sorted(_blocks(module_dir, "variable"), key=lambda item: ("default" in item[1], item[0]))
    for name, body in variables:
        description = _cell(str(_unquote(body.get("description", ""))))
        type_ = _cell(str(_unquote(body.get("type", "any"))))
        required = "no" if "default" in body else "yes"
        lines.append(f"| `{name}` | {description} | `{type_}` | {_default(body)} | {required} |")

    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in sorted(_blocks(module_dir, "output")):
        lines.append(f"| `{name}` | {_cell(str(_unquote(body.get('description', ''))))} |")

    lines += ["", "## Resources", "", "| Name | Type |", "|---|---|"]
    rows = []
    for kind, label in (("resource", "resource"), ("data", "data source")):
        for type_name, body in _blocks(module_dir, kind):
            for name in body:
                rows.append(f"| `{type_name}.{_unquote(name)}` | {label} |")
    for name, body in _blocks(module_dir, "module"):
        rows.append(f"| `module.{name}` | module (`{_unquote(body.get('source', ''))}`) |")
    lines += sorted(rows)
    return "\n".join(lines)


def update(readme: Path, check: bool) -> bool:
    """Returns True when the README is (or now is) up to date."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return True
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{render(readme.parent)}\n{END}{tail}"
    if fresh == text:
        return True
    if check:
        return False
    readme.write_text(fresh)
    return True


def _has_markers(readme: Path) -> bool:
    if not readme.exists():
        return False
    text = readme.read_text()
    return BEGIN in text and END in text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when a README's tables are out of date")
    args = parser.parse_args(argv)
    # Every sub-module and every example is documented: a directory of .tf files without a README that has
    # the markers fails, so a new module cannot land without its tables.
    roots = [ROOT, *sorted(d for pattern in ("modules/*", "examples/*") for d in ROOT.glob(pattern))]
    readmes = [d / "README.md" for d in roots if any(d.glob("*.tf"))]
    undocumented = [str(r.relative_to(ROOT)) for r in readmes if not _has_markers(r)]
    stale = [str(r.relative_to(ROOT)) for r in readmes if _has_markers(r) and not update(r, args.check)]
    if stale:
        print("README tables out of date (run `make docs`): " + ", ".join(stale), file=sys.stderr)
    if undocumented:
        print(f"README missing, or without {BEGIN} ... {END}: " + ", ".join(undocumented), file=sys.stderr)
    return 1 if stale or undocumented else 0


if __name__ == "__main__":
    sys.exit(main())

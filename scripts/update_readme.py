"""Regenerates the README's recipe table and CLI reference from the code.

    python scripts/update_readme.py

The recipe table comes from the recipe registry (`fin-factory recipes list --markdown`); the
CLI reference from the typer app itself (`typer factory.cli utils docs`). A test checks that the
README's copy of both is current.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def cli_reference() -> str:
    """The typer-generated reference, its headings moved under the README's own."""
    text = subprocess.run(
        [sys.executable, "-m", "typer", "factory.cli", "utils", "docs", "--name", "fin-factory"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    text = re.sub(r"^# `fin-factory`\n\n.*?\n\n", "", text, count=1, flags=re.S)
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 1) + " ", text, flags=re.M).strip()


def replace_between(text: str, marker: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:start[^>]*-->\n).*?(\n<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {marker}:start --> ... :end --> block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> None:
    from factory.cli.recipes import markdown_table, recipe_rows

    text = README.read_text(encoding="utf-8")
    text = replace_between(text, "recipes", markdown_table(recipe_rows()))
    text = replace_between(text, "cli", cli_reference())
    README.write_text(text, encoding="utf-8")
    print(f"updated {README}")


if __name__ == "__main__":
    main()

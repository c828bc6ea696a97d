"""What `fin-factory generate` prints: our progress and summary; distilabel's log on request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import MINIMAL

ROOT = Path(__file__).resolve().parents[2]


def _generate(recipe: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: its step processes inherit the log level this run chooses, and the
    # output is what a terminal would show (stdout and stderr together).
    env = {k: v for k, v in os.environ.items() if k != "DISTILABEL_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "factory.cli", "generate", str(recipe), "--out", str(out), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return done


def test_generate_prints_our_summary_and_not_distilabels_log(write_recipe, tmp_path):
    recipe = write_recipe(MINIMAL.replace("count: 300", "count: 200"))
    quiet = _generate(recipe, tmp_path / "quiet").stdout
    assert "kept" in quiet and "done in" in quiet
    assert "distilabel" not in quiet and "INFO" not in quiet, quiet

    verbose = _generate(recipe, tmp_path / "verbose", "--verbose").stdout
    assert "kept" in verbose
    assert "Processing batch" in verbose and "distilabel.step.teacher" in verbose

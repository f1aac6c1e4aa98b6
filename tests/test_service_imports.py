"""The serving image has no torch: nothing under service/ may import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys
from service.app import create_app
from service import cli, classify_file, feedback, stream, batching, predictor, routing, privacy  # noqa: F401
create_app()  # plugin commands (training, eval) are not service modules and are not loaded here
leaked = sorted(m for m in ("torch", "transformers") if m in sys.modules)
assert not leaked, leaked
print("clean")
"""


def test_service_does_not_import_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"


def test_no_service_module_mentions_torch() -> None:
    offenders = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "service").rglob("*.py")
        if "import torch" in p.read_text(encoding="utf-8") or "from torch" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []

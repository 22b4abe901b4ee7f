"""README.md stays true: its library example runs as written, in a fresh process and directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def block_after(marker: str) -> str:
    text = README.read_text()
    match = re.search(re.escape(marker) + r".*?\n```python\n(.*?)```", text, re.S)
    assert match, f"no python block after {marker!r} in README.md"
    return match.group(1)


def test_the_library_example_runs_as_written(tmp_path):
    code = block_after("<!-- library-example")
    env = {**os.environ, "NTM_COMPILATION_CACHE": "0"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    reason, sequences, cost = first.split()
    assert reason in ("solved", "budget") and 0 < int(sequences) <= 4_000 and float(cost) >= 0
    assert "'length': 5" in second and "'length': 10" in second and "cost_bits" in second
    # It wrote a run directory that every command can open.
    assert (tmp_path / "runs" / "reverse" / "best.safetensors").is_file()
    assert (tmp_path / "runs" / "reverse" / "metrics.csv").is_file()

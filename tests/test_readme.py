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


def readme_commands() -> list[str]:
    """The ``ntm`` commands of the README's command-line block, in order (continuation lines
    joined, comments and optional ``[...]`` parts as written)."""
    text = README.read_text()
    block = re.search(r"## The command line\n\n```bash\n(.*?)```", text, re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    return [line.split("  #")[0].strip() for line in lines if line.strip().startswith("ntm ")]


# Small budgets: a command's --sequences N trains N // 500 sequences (64 when none is given), and
# new runs get a small model; everything else runs as written.
SMALL_MODEL = ["--memory-rows", "16", "--memory-width", "8", "--controller-size", "16"]


def small(command: str) -> list[str]:
    import shlex

    argv = shlex.split(command.replace("[", "").replace("]", ""))[1:]
    if "--sequences" in argv:
        i = argv.index("--sequences") + 1
        argv[i] = str(max(64, int(argv[i]) // 500))
    elif argv[0] == "train":
        argv += ["--sequences", "64"]
    if argv[0] == "train" and "--resume" not in argv:
        argv += SMALL_MODEL
    if argv[0] == "sweep":
        argv += [f"--set=model.{flag[2:].replace('-', '_')}={value}" for flag, value in zip(SMALL_MODEL[::2], SMALL_MODEL[1::2])]
    return argv + (["--quiet"] if argv[0] in ("train", "reproduce", "sweep") else [])


def test_every_command_of_the_readme_works_in_order_in_a_fresh_directory(tmp_path, monkeypatch, capsys):
    from ntm import cli

    commands = readme_commands()
    assert len(commands) >= 12 and commands[0] == "ntm train copy"
    monkeypatch.chdir(tmp_path)
    for command in commands:
        code = cli.main(small(command))
        out, err = capsys.readouterr()
        assert code == 0, f"{command}: exit {code}\n{err[-2000:]}"
    assert (tmp_path / "runs" / "copy-ntm-ff-seed0" / "memory.png").is_file()
    assert (tmp_path / "runs" / "copy-ntm-ff-seed0" / "viewer.html").is_file()
    assert (tmp_path / "repro" / "copy-lstm-seed0" / "result.json").is_file()
    report = (tmp_path / "repro" / "REPORT.md").read_text()
    assert "| copy | NTM-FF | 0 (1) |" in report and "| copy | LSTM | 0 (1) |" in report
    assert (tmp_path / "repro" / "docs" / "reproduction" / "copy-learning.png").is_file()
    assert (tmp_path / "sweeps" / "copy" / "sweep.png").is_file()

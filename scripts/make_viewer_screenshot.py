"""Write a screenshot of the viewer of a run (for docs/viewer-screenshot.png).

    python scripts/make_viewer_screenshot.py RUN_DIR OUT.png [--length L] [--step K] [--size 1200,900]

Writes the viewer HTML beside the PNG's temporary directory, opens it in headless Chromium at step K
(default: the middle of the sequence) and saves a screenshot.  Needs ``chromium`` on the PATH
(Debian: ``apt-get install chromium``) or its path in ``NTM_CHROMIUM``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def chromium() -> str:
    for candidate in (os.environ.get("NTM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    sys.exit("make_viewer_screenshot: no chromium found (apt-get install chromium, or set NTM_CHROMIUM)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--length", type=int, default=None, help="sequence length (default: top of training range)")
    parser.add_argument("--step", type=int, default=None, help="step to show (default: the middle)")
    parser.add_argument("--size", default="1200,900", help="window size W,H (default 1200,900)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from ntm.viewer import write_viewer

    with tempfile.TemporaryDirectory() as tmp:
        page = write_viewer(args.run_dir, Path(tmp) / "viewer.html", length=args.length, seed=args.seed)
        steps = len(json.loads(re.search(r'id="ntm-data">(.*?)</script>', page.read_text(), re.S).group(1))["inputs"])
        step = steps // 2 if args.step is None else args.step
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={args.size}",
            "--virtual-time-budget=2000", f"--screenshot={args.out.resolve()}", page.resolve().as_uri() + f"#step={step}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not args.out.is_file():
            sys.exit(f"make_viewer_screenshot: chromium failed:\n{done.stderr[-2000:]}")
    print(f"wrote {args.out} (step {step} of {steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

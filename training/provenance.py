"""What a training run records about where it came from: the commit of the code it ran, and its data files' digests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from recognizer.mnist import ROOT


def commit() -> str:
    """HEAD's hash, with " and uncommitted changes" when tracked files differ from it; "unknown" outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} and uncommitted changes" if changed else head


def sha256_files(paths) -> dict[str, str]:
    """SHA-256 of each file: name -> hex digest (files that do not exist are left out)."""
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if Path(p).is_file()}

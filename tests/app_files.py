"""The files of a demo app folder that belong to the repository (what a commit would hold).

In a git checkout: tracked files plus untracked ones that .gitignore does not exclude, so a local
build's outputs (app/build/, .gradle/, DerivedData) never count. Elsewhere (a copy without .git):
every file, hidden folders left out.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def app_files(folder: Path) -> list[Path]:
    folder = Path(folder).resolve()
    if not folder.is_dir():
        return []
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=folder, capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # no git, or not inside a work tree
        return sorted(
            p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts[:-1])
        )
    return sorted(folder / name for name in listing.split("\0") if name and (folder / name).is_file())

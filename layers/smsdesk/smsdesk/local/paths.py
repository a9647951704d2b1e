"""Where the repository (``functions/<entry>/index.py``) lives."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT_ENV = "SMSDESK_REPO_ROOT"


def _is_root(path: Path) -> bool:
    return (path / "functions").is_dir()


def repo_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The repository root: ``explicit``, else ``$SMSDESK_REPO_ROOT``, else relative to this package
    (``<root>/layers/smsdesk/smsdesk/local``), else the current directory or one of its parents."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get(REPO_ROOT_ENV):
        candidates.append(Path(os.environ[REPO_ROOT_ENV]))
    candidates.append(Path(__file__).resolve().parents[4])
    cwd = Path.cwd().resolve()
    candidates.extend([cwd, *cwd.parents])
    for c in candidates:
        if _is_root(c):
            return c.resolve()
    raise FileNotFoundError(
        f"cannot find the smsdesk repository root (a directory holding functions/); set {REPO_ROOT_ENV}"
    )

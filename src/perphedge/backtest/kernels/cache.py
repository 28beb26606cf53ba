"""The kernels' numba cache, dropped when any file they are compiled from has changed.

numba keys a function's cached machine code on the contents of its own source file, but a
kernel carries the code of everything it calls: its sibling modules and the core's margin.py,
funding.py and hedge/keeper.py. An edit to one of those (or an upgrade that changes only them)
would leave the callers' cached machine code valid in numba's eyes, and the old code would run.
So the contents of all those files are hashed together and the digest is kept beside the cache;
when it differs, the cached kernels are deleted before anything loads them, and compiled afresh
on first use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import perphedge

_ROOT = Path(perphedge.__file__).parent
SOURCES = (
    *sorted((_ROOT / "backtest" / "kernels").glob("*.py")),
    _ROOT / "margin.py",
    _ROOT / "funding.py",
    _ROOT / "hedge" / "keeper.py",
)
STAMP = "perphedge-kernels.sha256"


def sources_digest(sources: tuple[Path, ...] = SOURCES) -> str:
    """One digest of the names and contents of the files the kernels are compiled from."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_dir_of(dispatcher: object) -> Path | None:
    """The folder numba caches a jitted function in (None: no cache). numba keeps the cache
    object in a private attribute; its `cache_path` is the folder it writes to."""
    cache = getattr(dispatcher, "_cache", None)
    path = getattr(cache, "cache_path", None)
    return Path(path) if isinstance(path, str) else None


def drop_stale(cache_dir: Path | None, digest: str) -> bool:
    """Delete the cached kernels in `cache_dir` unless it holds the stamp `digest`, then write
    it there; returns whether anything was deleted. Without write access nothing happens (numba
    then caches elsewhere, or not at all)."""
    if cache_dir is None:
        return False
    stamp = cache_dir / STAMP
    try:
        if stamp.read_text(encoding="ascii") == digest:
            return False
    except OSError:  # no stamp yet
        pass
    stale = [*cache_dir.glob("*.nbi"), *cache_dir.glob("*.nbc")]
    try:
        for path in stale:
            path.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest, encoding="ascii")
    except OSError:
        return False
    return bool(stale)

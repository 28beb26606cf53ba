"""The kernels' numba cache is dropped when a file they are compiled from changes (`cache`)."""

from __future__ import annotations

from pathlib import Path

from perphedge.backtest import kernels
from perphedge.backtest.kernels.cache import (
    SOURCES,
    STAMP,
    cache_dir_of,
    drop_stale,
    sources_digest,
)


def _cache_files(folder: Path) -> list[Path]:
    files = [folder / "single.simulate-50.py311.nbi", folder / "single.simulate-50.py311.1.nbc"]
    for path in files:
        path.write_bytes(b"compiled")
    return files


def test_a_changed_source_drops_the_cached_kernels_and_keeps_the_rest(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "rest.py").write_text("LANES = 16\n")
    (sources / "single.py").write_text("def simulate(): ...\n")
    files = (sources / "rest.py", sources / "single.py")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    bytecode = cache / "rest.cpython-311.pyc"
    bytecode.write_bytes(b"bytecode")

    cached = _cache_files(cache)
    assert drop_stale(cache, sources_digest(files))  # no stamp yet: whatever is there goes
    assert not any(p.exists() for p in cached) and bytecode.exists()
    assert (cache / STAMP).read_text() == sources_digest(files)

    cached = _cache_files(cache)  # compiled from these sources: kept
    assert not drop_stale(cache, sources_digest(files))
    assert all(p.exists() for p in cached)

    (sources / "rest.py").write_text("LANES = 8\n")  # a sibling of single.py changes
    assert drop_stale(cache, sources_digest(files))
    assert not any(p.exists() for p in cached) and bytecode.exists()


def test_the_digest_covers_every_kernel_module_and_the_core_formulas() -> None:
    names = {p.name for p in SOURCES}
    assert {"single.py", "rest.py", "leg.py", "formulas.py", "margin.py", "keeper.py"} <= names
    assert all(p.is_file() for p in SOURCES)
    assert len(sources_digest()) == 64


def test_importing_the_kernels_stamps_their_cache_folder() -> None:
    folder = cache_dir_of(kernels.simulate)
    assert folder is not None
    assert (folder / STAMP).read_text() == sources_digest()


def test_a_function_without_a_cache_has_no_folder() -> None:
    assert cache_dir_of(len) is None
    assert not drop_stale(None, "0" * 64)

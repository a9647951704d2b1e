"""Cold start from the built layer, as Lambda loads it (not from the development venv).

1. The layer is built by ``infra.layer_build.build_layer`` from the committed lock, for this machine's
   architecture (the lock hashes the wheels of both Lambda architectures) and the runtime's Python
   version, compiled by an interpreter of that version (fetched if needed, see ``lambda_python``). It is
   cached in ``build/bench/layer-<asset hash>``.
2. boto3 and its dependencies stand in for the runtime's copy: the development venv's distributions are
   copied into ``build/bench/runtime-<tag>`` and compiled like the runtime's site-packages.
3. Each handler's ``index`` module is imported in a fresh interpreter whose ``sys.path`` is only
   ``[function dir, layer python/, runtime boto3, stdlib]`` (``-I``: no user site, no environment
   variables, no current directory; ``-B``: nothing written, /opt is read-only on Lambda), with the
   environment variables the stack gives every function. Best and median of N, next to bare
   ``import boto3`` measured the same way in the same run, and the same layer with its bytecode removed
   (what the layer shipped before).

If no CPython of the runtime's version can be had, the local interpreter is used with a layer resolved
and compiled for it, and the report says so.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import layer_build as lb  # noqa: E402

BENCH_DIR = lb.BUILD_DIR / "bench"

SNIPPET = """
import sys, time
what, *paths = sys.argv[1:]
sys.path[:0] = paths
t, c = time.perf_counter(), time.process_time()
__import__(what)
print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)
"""

# What every function's environment holds in the stack (values do not matter for an import).
LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_LAMBDA_FUNCTION_NAME": "smsdesk-bench",
    "POWERTOOLS_SERVICE_NAME": "smsdesk-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "smsdesk",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "LANG": "C.UTF-8",
    "PATH": "/usr/bin:/bin",
}


@dataclass
class Setup:
    python: str
    version: str  # e.g. "3.14.10"
    faithful: bool  # True: the runtime's Python version
    note: str
    layer: Path  # .../python
    bare_layer: Path  # the same without __pycache__
    runtime: Path  # boto3 & co.
    layer_mb: float
    layer_files: int


def host_platform() -> str:
    machine = platform.machine()
    return {"x86_64": "manylinux2014_x86_64", "amd64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}.get(
        machine.lower(), f"manylinux2014_{machine}"
    )


def _size(path: Path) -> tuple[float, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


def _runtime_standin(python: str, info: dict, provided: list[str]) -> Path:
    dest = BENCH_DIR / f"runtime-{info['cache_tag']}"
    if (dest / ".done").exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in provided:
        dist = importlib.metadata.distribution(name)
        for rel in dist.files or ():
            if rel.parts[0] == ".." or "__pycache__" in rel.parts:
                continue
            src = Path(dist.locate_file(rel))
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    subprocess.run([python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(dest)], check=True)
    (dest / ".done").write_text("")
    return dest


def prepare() -> Setup:
    target = lb.LAMBDA_PYTHON_VERSION
    try:
        python = lb.lambda_python(target)
        faithful = True
        note = f"CPython {target}, the Lambda runtime's version"
        lock_path = lb.LOCK
    except lb.LayerError as exc:
        python = sys.executable
        faithful = False
        note = f"no CPython {target} here ({exc}); measured with the local interpreter and a layer resolved and compiled for it"
        local = "{}.{}".format(*sys.version_info[:2])
        resolved = lb.lock_from_resolutions(
            {host_platform(): lb.resolve(lb.runtime_dependencies(), platform=host_platform(), py_version=local)},
            local,
        )
        lock_path = Path(tempfile.mkdtemp()) / "lock.txt"
        lock_path.write_text(resolved.text())
    info = lb.interpreter_info(python)
    lock = lb.read_lock(lock_path)
    source = lb.LAYER_SOURCE / lb.PACKAGE_NAME
    key = lb.asset_hash(lock_path.read_text(), host_platform(), lock.python_version, source)[:16]
    out = BENCH_DIR / f"layer-{key}"
    if not (out / ".done").exists():
        if out.exists():
            shutil.rmtree(out)
        lb.build_layer(
            out, lock_path=lock_path, platform=host_platform(), py_version=lock.python_version, compile_python=python
        )
        bare = out / "bare"
        shutil.copytree(out / "python", bare / "python", ignore=shutil.ignore_patterns("__pycache__"))
        (out / ".done").write_text("")
    runtime = _runtime_standin(python, info, [p.name for p in lock.provided])
    mb, files = _size(out / "python")
    return Setup(
        python=python,
        version=info["full"],
        faithful=faithful,
        note=note,
        layer=out / "python",
        bare_layer=out / "bare" / "python",
        runtime=runtime,
        layer_mb=mb,
        layer_files=files,
    )


def _once(setup: Setup, what: str, paths: list[Path]) -> tuple[float, float]:
    out = subprocess.run(
        [setup.python, "-I", "-B", "-c", SNIPPET, what, *map(str, paths)],
        capture_output=True,
        text=True,
        env=LAMBDA_ENV,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"import {what} from {paths[0]} failed:\n{out.stderr[-3000:]}")
    wall, cpu = map(float, out.stdout.strip().splitlines()[-1].split())
    return wall, cpu


@dataclass
class Row:
    name: str
    wall: list[float]
    cpu: list[float]
    bare_cpu: list[float]  # the same layer without bytecode

    @property
    def best(self) -> float:
        return min(self.cpu)


def run(function_names: list[str], repeats: int) -> tuple[Setup, Row, list[Row]]:
    """Round-robin over every import (so a load spike hits all alike), ``repeats`` rounds."""
    setup = prepare()
    baseline = Row("import boto3", [], [], [])
    rows = [Row(name, [], [], []) for name in function_names]
    for _ in range(repeats):
        wall, cpu = _once(setup, "boto3", [setup.runtime])
        baseline.wall.append(wall)
        baseline.cpu.append(cpu)
        for row in rows:
            fn_dir = ROOT / "functions" / row.name
            wall, cpu = _once(setup, "index", [fn_dir, setup.layer, setup.runtime])
            row.wall.append(wall)
            row.cpu.append(cpu)
            row.bare_cpu.append(_once(setup, "index", [fn_dir, setup.bare_layer, setup.runtime])[1])
    return setup, baseline, rows


def main() -> int:
    sys.path.insert(0, str(lb.LAYER_SOURCE))
    from smsdesk import manifest

    setup, base, rows = run([fn.entry for fn in manifest.FUNCTIONS], int(os.environ.get("REPEATS", "5")))
    print(setup.note, setup.version, setup.layer, f"{setup.layer_mb:.1f} MB")
    for r in (base, *rows):
        print(
            f"{r.name}: cpu {r.best:.0f} ms (x{r.best / base.best:.2f}), wall {min(r.wall):.0f}/{statistics.median(r.wall):.0f} ms;"
            f" without .pyc cpu {min(r.bare_cpu or [0]):.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

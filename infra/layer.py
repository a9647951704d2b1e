"""The shared Lambda layer (``smsdesk`` package + runtime dependencies), built WITHOUT Docker.

``Code.from_asset`` is given bundling options whose ``local`` bundler runs on the synthesizing machine:

1. ``pip install --platform manylinux2014_<arch> --implementation cp --python-version <X.Y>
   --only-binary=:all: --target <out>/python <runtime deps>`` fetches wheels for the Lambda platform
   (whatever the host is), so no compiler and no Docker are needed;
2. ``layers/smsdesk/smsdesk`` is copied to ``<out>/python/smsdesk`` without the dev-only ``local/``
   subpackage and without ``__pycache__``.

The Docker image in ``BundlingOptions`` is a placeholder required by the API; it is never pulled because
the local bundler always succeeds or raises.

The asset hash is computed here (``AssetHashType.CUSTOM``) from the dependency list, the target platform
and the package sources, so a change in ``pyproject.toml`` rebuilds the layer and an unchanged layer is
not rebuilt (CDK skips bundling when ``cdk.out/asset.<hash>`` already exists).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = REPO_ROOT / "pyproject.toml"
LAYER_SOURCE = REPO_ROOT / "layers" / "smsdesk"
PACKAGE_NAME = "smsdesk"
#: Subpackages/dirs of ``smsdesk`` that never ship to Lambda.
EXCLUDED_DIRS = ("local", "__pycache__")
EXCLUDED_SUFFIXES = (".pyc", ".pyo")

_PLATFORMS = {
    lambda_.Architecture.ARM_64.name: "manylinux2014_aarch64",
    lambda_.Architecture.X86_64.name: "manylinux2014_x86_64",
}


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """``[project].dependencies`` of pyproject.toml: exactly what ships in the layer."""
    with pyproject.open("rb") as f:
        data = tomllib.load(f)
    deps = data.get("project", {}).get("dependencies", [])
    if not deps:
        raise ValueError(f"{pyproject}: [project].dependencies is empty")
    return list(deps)


def python_version(runtime: lambda_.Runtime) -> str:
    """``Runtime.PYTHON_3_14`` -> ``"3.14"``."""
    name = runtime.name
    if not name.startswith("python"):
        raise ValueError(f"not a Python runtime: {name}")
    return name.removeprefix("python")


def pip_platform(architecture: lambda_.Architecture) -> str:
    try:
        return _PLATFORMS[architecture.name]
    except KeyError:
        raise ValueError(f"unsupported architecture: {architecture.name}") from None


def pip_command(
    target: str | Path,
    requirements: Sequence[str],
    *,
    platform: str,
    py_version: str,
    python: str = sys.executable,
) -> list[str]:
    """The pip command that installs ``requirements`` for the Lambda platform into ``target``."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",  # .pyc from the build interpreter would not match the Lambda one
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        py_version,
        "--only-binary=:all:",
        "--target",
        str(target),
        *requirements,
    ]


def _ignore(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n.endswith(EXCLUDED_SUFFIXES)}
    if Path(directory).resolve() == (LAYER_SOURCE / PACKAGE_NAME).resolve():
        ignored |= {n for n in names if n in EXCLUDED_DIRS}
    ignored |= {n for n in names if n == "__pycache__"}
    return ignored


def package_files(source: Path = LAYER_SOURCE / PACKAGE_NAME) -> Iterable[Path]:
    """The package's files that ship in the layer (sorted; ``local/`` and caches excluded)."""
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file():
            continue
        if rel.parts[0] in EXCLUDED_DIRS or "__pycache__" in rel.parts or path.suffix in EXCLUDED_SUFFIXES:
            continue
        yield path


@jsii.implements(ILocalBundling)
class LocalLayerBundler:
    """Builds the layer on the host: pip (cross-platform wheels) + a filtered copy of the package."""

    def __init__(
        self,
        *,
        requirements: Sequence[str],
        platform: str,
        py_version: str,
        source: Path = LAYER_SOURCE / PACKAGE_NAME,
        python: str = sys.executable,
    ) -> None:
        self.requirements = list(requirements)
        self.platform = platform
        self.py_version = py_version
        self.source = source
        self.python = python

    def command(self, output_dir: str | Path) -> list[str]:
        return pip_command(
            Path(output_dir) / "python",
            self.requirements,
            platform=self.platform,
            py_version=self.py_version,
            python=self.python,
        )

    def try_bundle(self, output_dir: str, *, image=None, **_options) -> bool:
        out = Path(output_dir)
        site = out / "python"
        site.mkdir(parents=True, exist_ok=True)
        print(f"[smsdesk layer] pip install for {self.platform} / cp{self.py_version} -> {site}", file=sys.stderr)
        subprocess.run(self.command(out), check=True)
        dest = site / PACKAGE_NAME
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(self.source, dest, ignore=_ignore)
        return True


def asset_hash(requirements: Sequence[str], platform: str, py_version: str, source: Path) -> str:
    h = hashlib.sha256()
    h.update("\n".join([platform, py_version, *sorted(requirements)]).encode())
    for path in package_files(source):
        h.update(str(path.relative_to(source)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


class SharedLayer(Construct):
    """``smsdesk`` + runtime dependencies as one Lambda layer for ``runtime`` / ``architecture``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        description: str = "smsdesk shared package and runtime dependencies",
    ) -> None:
        super().__init__(scope, construct_id)
        requirements = runtime_dependencies()
        platform = pip_platform(architecture)
        py_version = python_version(runtime)
        source = LAYER_SOURCE / PACKAGE_NAME
        self.bundler = LocalLayerBundler(
            requirements=requirements, platform=platform, py_version=py_version, source=source
        )
        code = lambda_.Code.from_asset(
            str(LAYER_SOURCE),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=asset_hash(requirements, platform, py_version, source),
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=self.bundler,
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=description,
        )

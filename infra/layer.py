"""The shared Lambda layer (``smsdesk`` package + runtime dependencies) as a CDK construct, built WITHOUT Docker.

``Code.from_asset`` is given bundling options whose ``local`` bundler runs on the synthesizing machine and
calls :func:`infra.layer_build.build_layer`:

1. ``pip install --no-deps --require-hashes --platform manylinux2014_<arch> --implementation cp
   --python-version <X.Y> --only-binary=:all: --target <out>/python -r layers/lambda-requirements.txt``
   installs exactly the locked wheels for the Lambda platform (whatever the host is); boto3 and its
   dependencies are not in the lock, the Lambda runtime provides them;
2. ``layers/smsdesk/smsdesk`` is copied to ``<out>/python/smsdesk`` without the dev-only ``local/``
   subpackage and without ``__pycache__``;
3. a CPython of the runtime's version compiles everything to unchecked-hash .pyc, and the result is
   verified (see ``infra/layer_build.py``).

The Docker image in ``BundlingOptions`` is a placeholder required by the API; it is never pulled because
the local bundler always succeeds or raises.

The asset hash is computed here (``AssetHashType.CUSTOM``) from the lock (every shipped pin and its wheel
hashes), the target platform and Python version, the build recipe and the package sources: a changed lock
or package rebuilds the layer, and an unchanged layer is not rebuilt (CDK skips bundling when
``cdk.out/asset.<hash>`` already exists).
"""

from __future__ import annotations

import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.layer_build import LAYER_SOURCE, LOCK, PACKAGE_NAME, REPO_ROOT, asset_hash, build_layer

__all__ = ["REPO_ROOT", "LocalLayerBundler", "SharedLayer", "pip_platform", "python_version"]

_PLATFORMS = {
    lambda_.Architecture.ARM_64.name: "manylinux2014_aarch64",
    lambda_.Architecture.X86_64.name: "manylinux2014_x86_64",
}


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


@jsii.implements(ILocalBundling)
class LocalLayerBundler:
    """Builds the layer on the host with :func:`infra.layer_build.build_layer`."""

    def __init__(
        self,
        *,
        platform: str,
        py_version: str,
        lock_path: Path = LOCK,
        source: Path = LAYER_SOURCE / PACKAGE_NAME,
    ) -> None:
        self.platform = platform
        self.py_version = py_version
        self.lock_path = lock_path
        self.source = source

    def try_bundle(self, output_dir: str, *, image=None, **_options) -> bool:
        print(f"[smsdesk layer] building into {output_dir}", file=sys.stderr)
        build_layer(
            output_dir, lock_path=self.lock_path, platform=self.platform, py_version=self.py_version, source=self.source
        )
        return True


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
        platform = pip_platform(architecture)
        py_version = python_version(runtime)
        self.bundler = LocalLayerBundler(platform=platform, py_version=py_version)
        self.asset_hash = asset_hash(LOCK.read_text(), platform, py_version, self.bundler.source)
        code = lambda_.Code.from_asset(
            str(LAYER_SOURCE),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=self.asset_hash,
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

"""The Lambda layer build (infra/layer_build.py): the lock, the asset hash, bytecode and what must not ship.

The real layer (PyPI wheels, CPython 3.14) is built by `make synth` / `make bench`, which verify it with
the same `verify_layer`; here the build runs offline on a tiny wheel and the local interpreter.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import layer_build as lb

HERE_VERSION = "{}.{}".format(*sys.version_info[:2])
CACHE_TAG = sys.implementation.cache_tag
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


# --------------------------------------------------------------------------------------------------
# The committed lock
# --------------------------------------------------------------------------------------------------


def test_committed_lock_ships_nothing_the_runtime_provides() -> None:
    lock = lb.read_lock()
    shipped = {p.name for p in lock.shipped}
    assert lock.python_version == lb.LAMBDA_PYTHON_VERSION
    assert not shipped & RUNTIME_PROVIDED
    assert {p.name for p in lock.provided} == RUNTIME_PROVIDED
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools", "phonenumberslite"} <= shipped
    assert all(p.hashes for p in lock.shipped)
    # a compiled wheel differs per Lambda architecture: one hash for each
    assert len(next(p for p in lock.shipped if p.name == "pydantic-core").hashes) == len(lb.PLATFORMS)


def test_committed_lock_satisfies_pyproject(tmp_path: Path) -> None:
    lock = lb.read_lock()
    assert lb.stale_requirements(lock) == [], "pyproject.toml changed: run `make lock`"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["pydantic>=99", "boto3>=1.0", "left-pad"]\n')
    assert lb.stale_requirements(lock, pyproject) == ["pydantic>=99", "left-pad"]


def _item(name: str, version: str, requires: list[str], digest: str | None = None) -> dict:
    return {
        "metadata": {"name": name, "version": version, "requires_dist": requires},
        "download_info": {"archive_info": {"hashes": {"sha256": digest or hashlib.sha256(name.encode()).hexdigest()}}},
    }


def test_lock_leaves_out_boto3_and_everything_it_pulls_in() -> None:
    items = [
        _item("boto3", "1.40.0", ["botocore<1.41", "jmespath<2", "s3transfer<0.15", "awscrt; extra == 'crt'"]),
        _item("botocore", "1.40.0", ["jmespath", "python-dateutil<3", "urllib3!=2.2.0"]),
        _item("s3transfer", "0.14.0", ["botocore<2"]),
        _item("jmespath", "1.0.1", []),
        _item("python_dateutil", "2.9.0", ["six>=1.5"]),
        _item("six", "1.17.0", []),
        _item("urllib3", "2.5.0", []),
        _item("aws-lambda-powertools", "3.37.0", ["jmespath<2", "typing-extensions>=4.11"]),
        _item("Typing_Extensions", "4.16.0", []),
    ]
    arm = [*items, _item("pydantic-core", "2.50.5", [], "aa" * 32)]
    x86 = [*items, _item("pydantic-core", "2.50.5", [], "bb" * 32)]
    lock = lb.lock_from_resolutions({"arm": arm, "x86": x86}, "3.14")
    assert [p.line() for p in lock.shipped] == [
        "aws-lambda-powertools==3.37.0",
        "pydantic-core==2.50.5",
        "typing-extensions==4.16.0",
    ]
    assert {p.name for p in lock.provided} == RUNTIME_PROVIDED
    assert lock.shipped[1].hashes == ("aa" * 32, "bb" * 32)
    assert lb.parse_lock(lock.text()) == lock
    # one version per distribution on every platform, or no lock
    with pytest.raises(lb.LayerError, match="six"):
        lb.lock_from_resolutions({"arm": items, "x86": [*items[:5], _item("six", "1.16.0", []), *items[6:]]}, "3.14")


# --------------------------------------------------------------------------------------------------
# The asset hash
# --------------------------------------------------------------------------------------------------


def _lock(pins: dict[str, str], py: str = "3.14") -> str:
    return lb.Lock(py, tuple(lb.Pin(n, v, ("ab" * 32,)) for n, v in pins.items())).text()


def _package(root: Path) -> Path:
    src = root / "src" / "smsdesk"
    (src / "local").mkdir(parents=True)
    (src / "api" / "__pycache__").mkdir(parents=True)
    (src / "__init__.py").write_text('"""pkg"""\n')
    (src / "api" / "__init__.py").write_text("")
    (src / "api" / "app.py").write_text("def f(x):\n    return x + 1\n")
    (src / "api" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (src / "local" / "stack.py").write_text("import moto\n")
    (src / "py.typed").write_text("")
    return src


def test_asset_hash_covers_every_resolved_version(tmp_path: Path) -> None:
    src = _package(tmp_path)
    base = _lock({"pydantic": "2.14.4", "pydantic-core": "2.50.5"})
    h = lb.asset_hash(base, "manylinux2014_aarch64", "3.14", src)
    assert lb.asset_hash(base, "manylinux2014_aarch64", "3.14", src) == h
    # a transitive pin moving (same top-level requirements) is another layer
    assert (
        lb.asset_hash(_lock({"pydantic": "2.14.4", "pydantic-core": "2.50.6"}), "manylinux2014_aarch64", "3.14", src)
        != h
    )
    assert lb.asset_hash(base.replace("ab" * 32, "cd" * 32), "manylinux2014_aarch64", "3.14", src) != h
    assert lb.asset_hash(base, "manylinux2014_x86_64", "3.14", src) != h
    assert lb.asset_hash(base, "manylinux2014_aarch64", "3.13", src) != h
    (src / "api" / "app.py").write_text("def f(x):\n    return x + 2\n")
    h2 = lb.asset_hash(base, "manylinux2014_aarch64", "3.14", src)
    assert h2 != h
    # what does not ship does not count
    (src / "local" / "other.py").write_text("")
    (src / "api" / "__pycache__" / "app.cpython-314.pyc").write_bytes(b"\1")
    assert lb.asset_hash(base, "manylinux2014_aarch64", "3.14", src) == h2


# --------------------------------------------------------------------------------------------------
# Building (offline: a tiny wheel, the local interpreter)
# --------------------------------------------------------------------------------------------------


def _wheel(
    dist: Path, name: str = "tinydep", version: str = "1.0", extra: dict[str, str] | None = None
) -> tuple[Path, str]:
    dist.mkdir(parents=True, exist_ok=True)
    path = dist / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        **(extra or {}),
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as zf:
        for arc, text in files.items():
            zf.writestr(arc, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(text.encode())}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _pyc_header(pyc: Path) -> tuple[bytes, int]:
    head = pyc.read_bytes()[:8]
    return head[:4], int.from_bytes(head[4:8], "little")


def test_build_installs_the_lock_and_ships_bytecode_for_the_runtime(tmp_path: Path) -> None:
    src = _package(tmp_path)
    wheel, digest = _wheel(tmp_path / "wheels")
    lock = tmp_path / "lock.txt"
    lock.write_text(lb.Lock(HERE_VERSION, (lb.Pin("tinydep", "1.0", (digest,)),), (lb.Pin("boto3", "1.40.0"),)).text())
    site = lb.build_layer(
        tmp_path / "out",
        lock_path=lock,
        platform="manylinux2014_x86_64",
        py_version=HERE_VERSION,
        source=src,
        compile_python=sys.executable,
        pip_extra=["--no-index", "--find-links", str(wheel.parent)],
    )
    assert site == tmp_path / "out" / "python"
    modules = sorted(str(p.relative_to(site)) for p in site.rglob("*.py"))
    assert modules == ["smsdesk/__init__.py", "smsdesk/api/__init__.py", "smsdesk/api/app.py", "tinydep/__init__.py"]
    assert (site / "smsdesk" / "py.typed").is_file()
    assert not (site / "boto3").exists()
    for py in site.rglob("*.py"):
        pyc = py.parent / "__pycache__" / f"{py.stem}.{CACHE_TAG}.pyc"
        # the interpreter's own magic number, hash-based and unchecked (flags 0b01), plain -O0 name
        assert _pyc_header(pyc) == (importlib.util.MAGIC_NUMBER, 0b01)
    assert not list(site.rglob("*.opt-*.pyc"))
    # the bytecode loads and records the Lambda path, not the build directory
    out = subprocess.run(
        [
            sys.executable,
            "-B",
            "-c",
            "import tinydep, smsdesk.api.app as a; print(tinydep.VALUE, a.f(1), a.f.__code__.co_filename)",
        ],
        cwd=site,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[:2] == ["42", "2"]
    pyc_bytes = (site / "smsdesk" / "api" / "__pycache__" / f"app.{CACHE_TAG}.pyc").read_bytes()
    assert b"/opt/python/smsdesk/api/app.py" in pyc_bytes
    assert str(tmp_path).encode() not in pyc_bytes


def test_build_drops_gettext_catalogs_nothing_in_the_layer_reads(tmp_path: Path) -> None:
    """The holidays package ships ~3.5 MB of .mo translations of holiday names; smsdesk only needs dates."""
    src = _package(tmp_path)
    extra = {
        "tinydep/locale/fr/LC_MESSAGES/FR.mo": "catalog",
        "tinydep/locale/fr/LC_MESSAGES/FR.po": "msgid",
        "tinydep/data.json": "{}",
    }
    wheel, digest = _wheel(tmp_path / "wheels", extra=extra)
    lock = tmp_path / "lock.txt"
    lock.write_text(lb.Lock(HERE_VERSION, (lb.Pin("tinydep", "1.0", (digest,)),)).text())
    site = lb.build_layer(
        tmp_path / "out",
        lock_path=lock,
        platform="manylinux2014_x86_64",
        py_version=HERE_VERSION,
        source=src,
        compile_python=sys.executable,
        pip_extra=["--no-index", "--find-links", str(wheel.parent)],
    )
    assert (site / "tinydep" / "data.json").is_file()
    assert not list(site.rglob("*.mo")) and not list(site.rglob("*.po"))
    assert not (site / "tinydep" / "locale").exists()  # nor the directories that left empty


#: CPython 3.14's bytecode magic number (3627), fixed for every 3.14.x release.
PY314_MAGIC = (3627).to_bytes(2, "little") + b"\r\n"


def test_build_compiles_for_python_3_14_when_one_is_at_hand(tmp_path: Path) -> None:
    """With the runtime's interpreter present (`make synth` fetches it into build/), the layer's .pyc are 3.14's.

    Skipped on a fresh clone: tests contact no registry; `verify_layer` checks every real build the same way.
    """
    try:
        python = lb.lambda_python("3.14", fetch=False)
    except lb.LayerError:
        pytest.skip("no CPython 3.14 here (make synth or `python -m infra.layer_build python` fetches one)")
    src = _package(tmp_path)
    wheel, digest = _wheel(tmp_path / "wheels")
    lock = tmp_path / "lock.txt"
    lock.write_text(lb.Lock("3.14", (lb.Pin("tinydep", "1.0", (digest,)),)).text())
    site = lb.build_layer(
        tmp_path / "out",
        lock_path=lock,
        platform="manylinux2014_aarch64",
        py_version="3.14",
        source=src,
        compile_python=python,
        pip_extra=["--no-index", "--find-links", str(wheel.parent)],
    )
    pycs = sorted(site.rglob("*.pyc"))
    assert sorted(str(p.relative_to(site)) for p in pycs) == [
        "smsdesk/__pycache__/__init__.cpython-314.pyc",
        "smsdesk/api/__pycache__/__init__.cpython-314.pyc",
        "smsdesk/api/__pycache__/app.cpython-314.pyc",
        "tinydep/__pycache__/__init__.cpython-314.pyc",
    ]
    assert {_pyc_header(p) for p in pycs} == {(PY314_MAGIC, 0b01)}


def test_build_refuses_a_wheel_that_is_not_the_locked_one(tmp_path: Path) -> None:
    src = _package(tmp_path)
    wheel, _ = _wheel(tmp_path / "wheels")
    lock = tmp_path / "lock.txt"
    lock.write_text(lb.Lock(HERE_VERSION, (lb.Pin("tinydep", "1.0", ("0" * 64,)),)).text())
    with pytest.raises(subprocess.CalledProcessError):
        lb.build_layer(
            tmp_path / "out",
            lock_path=lock,
            platform="manylinux2014_x86_64",
            py_version=HERE_VERSION,
            source=src,
            compile_python=sys.executable,
            pip_extra=["--no-index", "--find-links", str(wheel.parent)],
        )


def test_build_refuses_an_interpreter_of_another_version(tmp_path: Path) -> None:
    other = "3.99"
    lock = tmp_path / "lock.txt"
    lock.write_text(lb.Lock(other, ()).text())
    with pytest.raises(lb.LayerError, match=rf"cannot compile bytecode for {re.escape(other)}"):
        lb.build_layer(
            tmp_path / "out",
            lock_path=lock,
            platform="p",
            py_version=other,
            source=_package(tmp_path),
            compile_python=sys.executable,
        )
    # nor builds from a lock resolved for another Python
    with pytest.raises(lb.LayerError, match=r"resolved for Python 3\.99"):
        lb.build_layer(
            tmp_path / "out", lock_path=lock, platform="p", py_version=HERE_VERSION, source=_package(tmp_path / "b")
        )


def test_lambda_python_takes_only_the_runtime_version(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMSDESK_LAMBDA_PYTHON", sys.executable)
    assert lb.lambda_python(HERE_VERSION) == sys.executable
    with pytest.raises(lb.LayerError, match=r"not a final CPython 3\.99"):
        lb.lambda_python("3.99")


def test_pip_installs_exactly_the_lock_for_the_lambda_platform() -> None:
    cmd = lb.pip_command("/out/python", "/repo/lock.txt", platform="manylinux2014_aarch64", py_version="3.14")
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(cmd)
    for part in (
        "--no-deps",
        "--require-hashes",
        "--no-compile",
        "--platform manylinux2014_aarch64",
        "--implementation cp",
        "--python-version 3.14",
        "--only-binary=:all:",
        "--target /out/python",
    ):
        assert part in joined
    assert cmd[-2:] == ["-r", "/repo/lock.txt"]


# --------------------------------------------------------------------------------------------------
# verify_layer: what a build may not produce
# --------------------------------------------------------------------------------------------------


def _compiled_site(tmp_path: Path, *mode: str) -> Path:
    site = tmp_path / "python"
    lb.copy_package(_package(tmp_path), site / "smsdesk")
    subprocess.run([sys.executable, "-m", "compileall", "-q", *mode, str(site)], check=True)
    return site


def _verify(site: Path, **kw) -> None:
    lb.verify_layer(site, magic=importlib.util.MAGIC_NUMBER, cache_tag=CACHE_TAG, **kw)


def test_verify_accepts_a_good_layer(tmp_path: Path) -> None:
    _verify(_compiled_site(tmp_path, "--invalidation-mode", "unchecked-hash"), provided=["boto3"])


def test_verify_refuses_a_module_without_bytecode(tmp_path: Path) -> None:
    site = _compiled_site(tmp_path, "--invalidation-mode", "unchecked-hash")
    (site / "smsdesk" / "extra.py").write_text("")
    with pytest.raises(lb.LayerError, match=r"smsdesk/extra.py: no extra\."):
        _verify(site)


def test_verify_refuses_bytecode_of_another_python(tmp_path: Path) -> None:
    site = _compiled_site(tmp_path, "--invalidation-mode", "unchecked-hash")
    with pytest.raises(lb.LayerError, match="magic"):
        lb.verify_layer(
            site,
            magic=b"+\x0e\r\n" if importlib.util.MAGIC_NUMBER != b"+\x0e\r\n" else b"\0\0\r\n",
            cache_tag=CACHE_TAG,
        )


def test_verify_refuses_timestamp_bytecode(tmp_path: Path) -> None:
    site = _compiled_site(tmp_path, "--invalidation-mode", "timestamp")
    with pytest.raises(lb.LayerError, match="not an unchecked-hash"):
        _verify(site)


def test_verify_refuses_runtime_provided_distributions(tmp_path: Path) -> None:
    site = _compiled_site(tmp_path, "--invalidation-mode", "unchecked-hash")
    (site / "botocore-1.40.0.dist-info").mkdir()
    with pytest.raises(lb.LayerError, match=r"botocore-1\.40\.0\.dist-info: provided by the Lambda runtime"):
        _verify(site, provided=["botocore"])
    (site / "botocore-1.40.0.dist-info").rmdir()
    (site / "boto3").mkdir()
    with pytest.raises(lb.LayerError, match="boto3/: provided by the Lambda runtime"):
        _verify(site)

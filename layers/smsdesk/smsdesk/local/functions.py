"""Load the real Lambda entry points (``functions/<entry>/index.py``) and invoke them like Lambda."""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from smsdesk import manifest
from smsdesk.local import isolation, resolvers
from smsdesk.local.invocations import InvocationLog
from smsdesk.local.moto_client import ACCOUNT_ID


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionRegistry:
    """One module per manifest function, imported once (a warm container), invoked from any thread.

    Invocations run concurrently, HTTP ones included (one gateway thread per connection): Powertools'
    resolvers keep the request being handled on the ``BaseRouter`` class, which
    ``smsdesk.local.resolvers`` makes per thread, so each thread is an execution environment of its own
    serving one request at a time, as in Lambda.
    """

    def __init__(
        self,
        repo_root: Path,
        region: str,
        log: InvocationLog,
        env_of: Callable[[manifest.Function], dict[str, str]] | None = None,
    ) -> None:
        self.repo_root = repo_root
        self.region = region
        self.log = log
        #: The function's own environment (``LocalStack.function_env``); None: the process' (unit tests).
        self._env_of = env_of
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()
        resolvers.install()

    def path(self, fn: manifest.Function) -> Path:
        module_file, _, _ = fn.handler.rpartition(".")
        return self.repo_root / "functions" / fn.entry / f"{module_file}.py"

    def load(self, fn: manifest.Function) -> ModuleType:
        with self._lock:
            mod = self._modules.get(fn.name)
            if mod is None:
                path = self.path(fn)
                spec = importlib.util.spec_from_file_location(f"smsdesk_local_functions.{fn.name}", path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {path}")
                mod = importlib.util.module_from_spec(spec)
                with self._scope(fn):  # module-level code runs in the function's environment too
                    spec.loader.exec_module(mod)
                self._modules[fn.name] = mod
            return mod

    def _scope(self, fn: manifest.Function) -> Any:
        if self._env_of is None:
            return contextlib.nullcontext()
        return isolation.invocation(fn.name, self._env_of(fn))

    def handler(self, fn: manifest.Function) -> Any:
        return getattr(self.load(fn), fn.handler.rpartition(".")[2])

    def context(self, fn: manifest.Function) -> LambdaContext:
        name = f"smsdesk-local-{fn.name}"
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=fn.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
            timeout_s=fn.timeout_s,
        )

    def invoke(self, fn: manifest.Function, event: dict[str, Any], *, trigger: str, source: str) -> Any:
        """Call the handler; record the invocation; re-raise what the handler raised."""
        records = len(event.get("Records", [])) if trigger in ("sqs", "stream") else 1
        started = time.time()
        t0 = time.perf_counter()
        error: str | None = None
        result: Any = None
        try:
            handler = self.handler(fn)
            with self._scope(fn):
                result = handler(event, self.context(fn))
            return result
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            failures = 0
            status = None
            if trigger in ("sqs", "stream"):
                failures = records if error else len((result or {}).get("batchItemFailures") or [])
            elif trigger == "http" and error is None:
                status = result.get("statusCode", 200) if isinstance(result, dict) else 200
            elif trigger == "http":
                status = 500
            self.log.invocation(
                function=fn.name,
                trigger=trigger,
                source=source,
                records=records,
                failures=failures,
                ok=error is None,
                error=error,
                started_at=started,
                duration_ms=(time.perf_counter() - t0) * 1000,
                status=status,
            )

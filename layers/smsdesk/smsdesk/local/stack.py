"""``LocalStack``: moto server + manifest resources + gateway + pollers + schedule driver + seed.

Usable in-process (tests) or from the CLI::

    with LocalStack(port=0) as stack:
        requests.get(stack.base_url + "/v1/me", headers={"authorization": f"Bearer {stack.token}"})
        stack.invocations.wait_for(lambda e: e.get("function") == "timers")

moto runs in a process of its own (``local/moto_client.py``; the ``--state-dir`` journal and the S3
event notifications run there, around moto); the handlers run in this process, each invocation with
only its own function's environment and grants (:meth:`LocalStack.function_env`, ``smsdesk.local.isolation`` and ``smsdesk.local.iam``). Outside
invocations (the runtime itself, tests' own setup) the process environment holds every resource's
variable (:meth:`LocalStack.env`); the stack restores it on :meth:`stop`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from smsdesk import config, manifest

log = logging.getLogger("smsdesk_local")

DEFAULT_REGION = "eu-west-1"
DEFAULT_PORT = 8787
_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
#: What the Lambda runtime (plus, locally, the moto endpoint and the sandbox provider) gives every function.
_RUNTIME_ENV = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "SMSDESK_LOCAL",
    "STAGE",
    "DEFAULT_COUNTRY",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_LOG_LEVEL",
    "SANDBOX_CALLBACK_BASE",
)


class LocalStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        region: str = DEFAULT_REGION,
        default_country: str = "NL",
        state_dir: str | os.PathLike[str] | None = None,
        repo_root: str | os.PathLike[str] | None = None,
        local_json: str | os.PathLike[str] | None = None,
        seed: bool = True,
        retry_visibility_s: int = 1,
        poll_wait_s: int = 1,
        scheduler_poll_s: float = 0.5,
        save_interval_s: float = 30.0,
        token_refresh_margin_s: float = 300.0,
        warm: bool = True,
        pollers_per_queue: int = 3,
        state_compact_records: int = 1000,
        state_fsync: bool = False,
        message_events: str = "final",
    ) -> None:
        from smsdesk.local.paths import repo_root as find_root

        self.host = host
        self.port = port
        self.region = region
        self.default_country = default_country.upper()
        self.message_events = message_events.lower()
        if self.message_events not in config.MESSAGE_EVENTS_MODES:
            raise ValueError(f"message_events={message_events!r}: one of {', '.join(config.MESSAGE_EVENTS_MODES)}")
        self.state_dir = Path(state_dir) if state_dir else None
        self.repo_root = find_root(repo_root)
        self.local_json = Path(local_json) if local_json else None
        self.seed = seed
        self.retry_visibility_s = retry_visibility_s
        self.poll_wait_s = poll_wait_s
        self.scheduler_poll_s = scheduler_poll_s
        self.save_interval_s = save_interval_s
        self.state_compact_records = state_compact_records
        self.state_fsync = state_fsync
        self.token_refresh_margin_s = token_refresh_margin_s
        self.warm = warm
        self.pollers_per_queue = max(1, pollers_per_queue)
        self.startup_s = 0.0
        self.restored = False
        self._env: dict[str, str] = {}
        self._function_env: dict[str, dict[str, str]] = {}
        self._saved_env: dict[str, str | None] = {}
        self.access: Any = None
        self.sms_voice: Any = None
        self._isolated = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self.moto: Any = None
        self.resources: Any = None
        self.gateway: Any = None
        self.functions: Any = None
        self.tokens: Any = None
        from smsdesk.local.invocations import InvocationLog

        self.invocations = InvocationLog()

    # -- public properties -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.gateway.port if self.gateway else self.port}"

    @property
    def endpoint(self) -> str:
        return self.moto.endpoint if self.moto else ""

    @property
    def token(self) -> str:
        return self.tokens.token if self.tokens else ""

    @property
    def env(self) -> dict[str, str]:
        """The environment the handlers run with (every manifest resource + common settings)."""
        return dict(self._env)

    def function_env(self, fn: manifest.Function | str) -> dict[str, str]:
        """The environment ``fn``'s handler runs with, as Lambda would give it: the runtime's variables,
        the manifest's (``manifest.function_env_names``) and, locally, the moto endpoint. The dict is
        the live one (a warm container's): :meth:`configure` changes it."""
        fn = manifest.function(fn) if isinstance(fn, str) else fn
        env = self._function_env.get(fn.name)
        if env is None:
            env = {k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}
            env.update({k: self._env[k] for k in _RUNTIME_ENV if k in self._env})
            env.update(
                {
                    "AWS_LAMBDA_FUNCTION_NAME": f"smsdesk-local-{fn.name}",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
                    "POWERTOOLS_SERVICE_NAME": f"smsdesk-{fn.name}",
                }
            )
            for name in manifest.function_env_names(fn):
                if name in self._env and name not in env:
                    env[name] = self._env[name]
            env.update(fn.env)
            self._function_env[fn.name] = env
        return env

    @contextlib.contextmanager
    def configure(self, function: str, **values: str) -> Iterator[None]:
        """Set environment variables of one function for the block (``aws lambda
        update-function-configuration`` in AWS), e.g. ``configure("sender", SENDER_BACKOFF_BASE_S="0")``."""
        env = self.function_env(function)
        saved = {k: env.get(k) for k in values}
        env.update(values)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v

    @contextlib.contextmanager
    def configure_all(self, **values: str) -> Iterator[None]:
        """Set environment variables of every function, and of this process (code a test runs directly),
        for the block: a deployment setting, e.g. ``configure_all(MESSAGE_EVENTS="all")``."""
        saved = {k: os.environ.get(k) for k in values}
        with contextlib.ExitStack() as scope:
            for fn in manifest.FUNCTIONS:
                scope.enter_context(self.configure(fn.name, **values))
            os.environ.update(values)
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    @property
    def scheduler(self) -> Any:
        """The schedule driver (``local/scheduler_driver.py``): ``stack.scheduler.advance(61)`` moves its
        clock a minute on, so what falls due fires now."""
        from smsdesk.local.scheduler_driver import SchedulerDriver

        return next(t for t in self._threads if isinstance(t, SchedulerDriver))

    def info(self) -> dict[str, Any]:
        return self.tokens.info() if self.tokens else {"base_url": self.base_url}

    def wiring(self) -> dict[str, list[tuple[str, ...]]]:
        """What is wired locally, per trigger kind, for the manifest-agreement test."""
        from smsdesk.local.pollers import BusRulePoller, QueuePoller
        from smsdesk.local.streams import StreamPoller

        return {
            "routes": [(r.function.name, r.route.method, r.route.path) for r in self.gateway.routes],
            "queues": sorted({(t.function.name, t.name) for t in self._threads if isinstance(t, QueuePoller)}),
            "rules": [(t.function.name, t.name) for t in self._threads if isinstance(t, BusRulePoller)],
            "streams": [(t.function.name, t.trigger.name) for t in self._threads if isinstance(t, StreamPoller)],
        }

    def wait_streams(self, timeout: float = 10.0) -> bool:
        """Block until every stream record written so far is handled (the outbox has published it)."""
        from smsdesk.local.streams import StreamPoller

        return all(t.wait_idle(timeout) for t in self._threads if isinstance(t, StreamPoller))

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        for k, v in values.items():
            if k not in self._saved_env:
                self._saved_env[k] = os.environ.get(k)
            os.environ[k] = v
        self._env.update(values)

    def _reset_clients(self) -> None:
        from smsdesk import aws

        aws.reset()

    def _client_hooks(self) -> list[Any]:
        return [self.access.attach, self.sms_voice.attach]

    def start(self) -> LocalStack:
        if self._started:
            return self
        t0 = time.perf_counter()
        from smsdesk import aws
        from smsdesk.local import isolation, s3_events, sms_voice
        from smsdesk.local import resources as res_mod
        from smsdesk.local import seed as seed_mod
        from smsdesk.local.auth import JwtAuthorizer
        from smsdesk.local.functions import FunctionRegistry
        from smsdesk.local.gateway import Gateway
        from smsdesk.local.iam import AccessChecker
        from smsdesk.local.moto_client import MotoProcess
        from smsdesk.local.pollers import BusRulePoller, QueuePoller
        from smsdesk.local.scheduler_driver import SchedulerDriver
        from smsdesk.local.sms_voice import LocalSmsVoice
        from smsdesk.local.streams import StreamPoller
        from smsdesk.local.web import StaticSite, app_config

        self._stop.clear()
        # moto, its --state-dir journal (local/state.py) and the uploads bucket's S3 event notifications
        # (local/s3_events.py) in a process of its own: the handlers here do not share its GIL.
        self.moto = MotoProcess(
            region=self.region,
            state_dir=self.state_dir,
            compact_interval_s=self.save_interval_s,
            compact_records=self.state_compact_records,
            fsync=self.state_fsync,
        )
        self._started = True
        try:
            endpoint = self.moto.start()
            self.restored = self.moto.restored
            for k in _CLEARED_ENV + tuple(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")):
                if k in os.environ:
                    self._saved_env.setdefault(k, os.environ[k])
                    del os.environ[k]
            self._set_env(
                {
                    "AWS_ENDPOINT_URL": endpoint,
                    "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_DEFAULT_REGION": self.region,
                    "AWS_REGION": self.region,
                    "SMSDESK_LOCAL": "1",
                    "STAGE": "local",
                    "DEFAULT_COUNTRY": self.default_country,
                    "MESSAGE_EVENTS": self.message_events,
                    "POWERTOOLS_SERVICE_NAME": "smsdesk",
                    "POWERTOOLS_METRICS_NAMESPACE": "smsdesk",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
                }
            )
            self._reset_clients()
            self.resources = res_mod.create_resources(self.region)
            self._set_env(self.resources.env)
            self.moto.s3_event_targets(s3_events.targets(self.resources))
            # Each handler: its own environment, and only the AWS calls its manifest entry grants.
            self.access = AccessChecker(self.resources)
            self.sms_voice = LocalSmsVoice(sms_voice.topic_arn(self.resources), self.region)
            aws.client_hooks.extend(self._client_hooks())
            isolation.install()
            self._isolated = True
            self._reset_clients()

            self.functions = FunctionRegistry(self.repo_root, self.region, self.invocations, self.function_env)
            r = self.resources
            authorizer = JwtAuthorizer(
                issuer=r.issuer,
                audience=[r.user_pool_client_id],
                jwks_url=f"{endpoint}/{r.user_pool_id}/.well-known/jwks.json",
            )
            self.gateway = Gateway(
                host=self.host,
                port=self.port,
                functions=self.functions,
                authorizer=lambda: authorizer,
                log_=self.invocations,
                site=StaticSite(
                    self.repo_root / "web" / "dist",
                    # The app signs in against moto's Cognito directly (moto answers CORS), as against AWS's.
                    app_config(
                        region=self.region,
                        user_pool_id=r.user_pool_id,
                        client_id=r.user_pool_client_id,
                        cognito_endpoint=endpoint,
                        stage="local",
                    ),
                ),
            )
            # The sandbox provider posts its delivery receipts to this gateway's webhook routes.
            self._set_env({"SANDBOX_CALLBACK_BASE": self.base_url})
            if self.seed:
                self._seed(seed_mod)

            common = {
                "functions": self.functions,
                "stop": self._stop,
                "retry_visibility_s": self.retry_visibility_s,
                "wait_s": self.poll_wait_s,
            }
            for fn in manifest.FUNCTIONS:
                for trig in fn.triggers:
                    if isinstance(trig, manifest.QueueTrigger):
                        # Lambda's event source mapping polls with several pollers (up to the trigger's
                        # maximum concurrency); locally a few threads, each invoking one batch at a time.
                        pollers = min(self.pollers_per_queue, trig.max_concurrency or self.pollers_per_queue)
                        self._threads.extend(
                            QueuePoller(
                                name=trig.queue.name,
                                function=fn,
                                queue=r.queues[trig.queue.name],
                                batch_size=trig.batch_size,
                                batching_window_s=trig.max_batching_window_s,
                                **common,
                            )
                            for _ in range(pollers)
                        )
                    elif not isinstance(trig, manifest.HttpRoute | manifest.BusRule | manifest.StreamTrigger):
                        raise RuntimeError(f"{fn.name}: trigger {trig!r} is not supported by the local stack")
            for wiring in r.rules:
                self._threads.append(
                    BusRulePoller(
                        name=wiring.rule_name, function=wiring.function, queue=wiring.queue, batch_size=10, **common
                    )
                )
            for sw in r.streams:
                self._threads.append(
                    StreamPoller(
                        function=sw.function,
                        trigger=sw.trigger,
                        table_name=sw.table_name,
                        region=self.region,
                        functions=self.functions,
                        stop=self._stop,
                        dlq_url=sw.dlq_url,
                        moto=self.moto,
                    )
                )
            self._threads.append(
                SchedulerDriver(
                    group=r.schedule_group,
                    region=self.region,
                    log_=self.invocations,
                    stop=self._stop,
                    poll_s=self.scheduler_poll_s,
                )
            )
            for t in self._threads:
                t.start()
            self.gateway.start()
            if self.tokens:
                self.tokens.start()
            if self.warm:
                threading.Thread(target=self._warm, name="local-warm", daemon=True).start()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def _seed(self, seed_mod: Any) -> None:
        # With a state dir the password is derived from its key (the same on every start, stored nowhere).
        user_id, password = seed_mod.seed_admin(self.moto.password)
        self.tokens = seed_mod.TokenKeeper(
            password=password,
            user_id=user_id,
            base_url=f"http://{self.host}:{self.gateway.port}",
            path=self.local_json,
            margin_s=self.token_refresh_margin_s,
        )
        self.tokens.authenticate()

    def _warm(self) -> None:
        """Import every function once in the background (a warm container), so first calls are fast."""
        for fn in manifest.FUNCTIONS:
            if self._stop.is_set():
                return
            try:
                self.functions.load(fn)
            except Exception:
                log.exception("could not import function %s", fn.name)

    def save_state(self) -> Path | None:
        """Fold the write journal into snapshots now (every write is on disk already; see local/state.py)."""
        if not self.state_dir:
            return None
        try:
            self.moto.compact()
        except Exception:
            log.exception("could not save state to %s", self.state_dir)
            return None
        return self.state_dir

    def stop(self) -> None:
        if not self._started:
            return
        self._stop.set()
        if self.gateway:
            self.gateway.stop()
        if self.tokens:
            self.tokens.stop()
        for t in self._threads:
            t.join(timeout=self.poll_wait_s + 35)
        self._threads = []
        try:
            self.moto.stop()  # with a state dir: folds the journal into the snapshots first
            if self.state_dir:
                log.info("state saved to %s", self.state_dir)
        except Exception:
            log.exception("could not stop moto (state dir: %s)", self.state_dir)
        if self._isolated:
            from smsdesk import aws
            from smsdesk.local import isolation

            for hook in self._client_hooks():
                with contextlib.suppress(ValueError):
                    aws.client_hooks.remove(hook)
            isolation.uninstall()
            self._isolated = False
        self._function_env = {}
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env = {}
        self._reset_clients()
        self._started = False

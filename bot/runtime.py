"""Assembles one running bot: database, service, Bolt app, outbox worker and scheduler.

`Runtime` is used by `crisisbot run`, `crisisbot demo` and the end-to-end tests alike, so what
the tests exercise is what production runs. The clock is injectable for tests that need hours
to pass in seconds.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from slack_bolt import App
from slack_sdk import WebClient

from bot import metrics, schema
from bot.app import create_app
from bot.config import Settings
from bot.email.inbound import make_inbound
from bot.health import Health, HealthCheck, migration_heads
from bot.http_workers import READY, Handlers, HttpWorkers, Relay, Served
from bot.intake import Intake, IntakeDrain
from bot.listeners.deps import Deps, Forms, People
from bot.load import InFlight, Lull
from bot.outbox.processes import OutboxProcesses
from bot.outbox.worker import OutboxWorker, build_worker
from bot.scheduler import ReminderScheduler
from bot.slack.client import make_client, make_lookup_client
from bot.slack.oauth import bolt_oauth_options, resume_on_install
from bot.slack.pacing import Priority, priority_of
from bot.web import THREADS, listen, make_wsgi, serve
from bot.wiring import build_wiring, policy_from, tune_gc
from playbook import store
from playbook.services.emails import EmailService
from playbook.services.incidents import Service
from playbook.services.intake import IntakeService
from playbook.services.retention import RetentionService

log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")
# views.open's own timeout: a trigger_id lives 3 s from Slack's click, and part of that is gone
FORM_TIMEOUT = 2.0


def _submit(executor: ThreadPoolExecutor, fn: Callable[[T], None], arg: T) -> None:
    """Run `fn(arg)` on the executor; after shutdown (the process is stopping, and the next
    start rebuilds every job from the database) there is nothing left to move."""
    with contextlib.suppress(RuntimeError):
        executor.submit(fn, arg)


def _call(work: Callable[[], None]) -> None:
    work()


@dataclass
class Runtime:
    settings: Settings
    service: Service
    client: WebClient
    app: App
    worker: OutboxWorker
    scheduler: ReminderScheduler
    engine: Any
    post_ack: ThreadPoolExecutor
    # the outbox in child processes (`CRISISBOT_OUTBOX_PROCESSES`); None: `worker`'s threads
    outbox_processes: OutboxProcesses | None = None
    # views.open after the ack (`bot.listeners.deps.Forms`)
    forms: Forms | None = None
    # what the listeners were given (an HTTP worker's relays its after-ack work)
    deps: Deps | None = None
    # Slack requests inside this process's app, and the intake's drain (main process only)
    load: InFlight | None = None
    drain: IntakeDrain | None = None
    lull: Lull | None = None
    _health: HealthCheck | None = None

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], datetime] = system_clock,
              migrate: bool = True, outbox_threads: int | None = None,
              outbox_processes: int | None = None,
              token_verification: bool = True, relay: Relay | None = None) -> Runtime:
        """`outbox_threads` / `outbox_processes` default to the settings. `relay`: this is an
        HTTP worker (`bot.http_workers`), whose outbox and scheduler are the main process's:
        after an ack it tells that process instead (nothing here is started)."""
        policy = policy_from(settings)  # a bad playbook file stops us before anything starts
        tune_gc()
        if migrate:
            schema.upgrade(settings.database_url)
        wiring = build_wiring(settings, policy, clock)
        service, client = wiring.service, wiring.client
        threads = settings.outbox_threads if outbox_threads is None else outbox_threads
        processes = settings.outbox_processes if outbox_processes is None else outbox_processes
        worker = build_worker(service, client, settings, clock, threads=threads)
        # With process_before_response the HTTP answer waits for the whole listener: moving
        # an incident's reminders (a read and a job change) runs on this thread after it.
        post_ack = ThreadPoolExecutor(max_workers=1, thread_name_prefix="post-ack")
        children = None
        if processes:
            children = OutboxProcesses(settings, processes=processes, threads=threads,
                                       clock=clock)
        wake = relay.wake_outbox if relay is not None else \
            children.wake if children is not None else worker.wake
        pruning = RetentionService(service.sessions, clock, settings.retention)
        scheduler = ReminderScheduler(service, on_fired=wake, housekeeping=pruning.prune)
        installs = wiring.installations  # None: one workspace, one bot token
        people = People(make_lookup_client(settings, tokens=installs), settings,
                        leads_of=lambda team: service.workspaces.settings_of(team).leads)
        def later(work: Callable[[], None]) -> None:
            _submit(post_ack, _call, work)

        # (a form's follow-up runs on `later`, not on the few threads that open forms)
        forms = Forms(make_lookup_client(settings, timeout=FORM_TIMEOUT, tokens=installs),
                      client, workers=8, later=later)
        deps = Deps(service=service, settings=settings, people=people, clock=clock,
                    wake_outbox=wake, forms=forms, installations=installs,
                    reschedule=lambda incident_id: _submit(post_ack, scheduler.reschedule,
                                                           incident_id),
                    schedule=lambda incident: _submit(post_ack, scheduler.schedule, incident),
                    later=later)
        if relay is not None:  # the main process plans the reminders
            deps.reschedule = relay.reschedule
            deps.schedule = relay.schedule
            deps.settings_changed = relay.settings_changed  # with its own cached settings
        # opens under load: recorded raw, opened by the main process's drain (bot/intake.py);
        # the after-work of acks waits for a lull (bot/load.py)
        load, intake = InFlight(), IntakeService(service)
        deps.lull = lull = Lull(load)
        deps.later = lambda work, off_ack=deps.later: lull(lambda: off_ack(work))
        drain = None if relay is not None else IntakeDrain(
            intake, actor_of=lambda team, user: people.actor(user, team=team),
            after=lambda outcome: deps.after(outcome, saved=True), told=wake, load=load)
        if settings.intake_after:
            deps.intake = Intake(intake, load, settings.intake_after,
                                 relay.wake_intake if relay is not None else
                                 drain.wake if drain is not None else wake)
        bolt_client, oauth = client, None
        if installs is not None:  # OAuth installs: each request's token from its installation
            bolt_client = make_client(settings)  # Bolt's own (oauth.v2.access): no token
            # (deps.schedule: in an HTTP worker process, the main process plans them)
            oauth = bolt_oauth_options(settings, installs, bolt_client, resume_on_install(
                installs, service, wake, lambda inc: deps.schedule(inc)))
        app = create_app(settings, deps, client=bolt_client,
                         token_verification=token_verification, oauth=oauth)
        return cls(settings, service, client, app, worker, scheduler, wiring.engine, post_ack,
                   children, forms, deps, load=load, drain=drain, lull=lull)

    def start_outbox(self) -> None:
        (self.outbox_processes or self.worker).start()
        if self.drain is not None:  # the opens the intake recorded feed the outbox too
            self.drain.start()

    def wake_outbox(self) -> None:
        (self.outbox_processes or self.worker).wake()

    def after_lull(self, work: Callable[[], None]) -> None:
        """`work` now, or at the next lull while requests are in flight (bot/load.py)."""
        (self.lull or _call)(work)

    def start_background(self) -> None:
        self.start_outbox()
        self.scheduler.start()

    def stop(self) -> None:
        if self.drain is not None:
            self.drain.stop()
        if self.lull is not None:
            self.lull.close()
        self.post_ack.shutdown(wait=True, cancel_futures=True)
        if self.forms is not None:
            self.forms.close()
        self.scheduler.shutdown()
        (self.outbox_processes or self.worker).stop()
        self.engine.dispose()

    def healthy(self) -> Health:
        """The database takes writes, its schema is this code's, its file is the one opened
        at start (bot/health.py)."""
        if self._health is None:
            self._health = HealthCheck(lambda: self.engine, migration_heads(),
                                       self.settings.secrets)
        return self._health()

    def wsgi(self) -> Callable[..., Any]:
        inbound = make_inbound(EmailService(self.service), self.settings.inbound_secret,
                               self.service.clock,
                               after=self.deps.wake_outbox if self.deps else self.wake_outbox)
        # `crisisbot run --http` requires the secret (bot.config); without one nothing passes
        return make_wsgi(self.app, self.healthy, inbound,
                         signing_secret=self.settings.slack_signing_secret or "",
                         metrics=self.metrics_text, load=self.load)

    def outbox_depth(self) -> dict[str, int]:
        """Open outbox rows by priority (bot/slack/pacing.py), every process and replica."""
        with self.service.sessions() as session:
            kinds = store.open_by_kind(session)
        depth = {p.name.lower(): 0 for p in Priority}
        for kind, count in kinds.items():
            depth[priority_of(kind).name.lower()] += count
        return depth

    def metrics_text(self) -> bytes:
        """What GET /metrics answers (bot/metrics.py)."""
        return metrics.exposition(self.outbox_depth)

    def metrics_server(self, port: int, host: str = "0.0.0.0") -> Any:
        """`crisisbot run --metrics-port`: GET /metrics on a port of its own (Socket Mode)."""
        return metrics.serve_metrics(port, self.outbox_depth, host=host)

    def http_server(self, port: int, host: str = "0.0.0.0", *, workers: int = 1,
                    threads: int = THREADS) -> Any:
        """The HTTP server (`.run()`, `.close()`, `.effective_port`). `workers` > 1: this
        process serves with `workers - 1` HTTP worker processes on the same socket
        (`bot.http_workers`), whose after-the-ack work comes back here."""
        if workers <= 1:
            return serve(self.wsgi(), host=host, port=port, threads=threads, load=self.load)
        sock = listen(host, port)
        pool = HttpWorkers(sock, self.settings, self.relay_handlers(),
                           count=workers - 1, threads=threads, target=http_worker)
        try:
            pool.start()
            return Served(serve(self.wsgi(), threads=threads, sock=sock, load=self.load), pool,
                          sock)
        except BaseException:
            pool.stop()
            sock.close()
            raise

    def relay_handlers(self) -> Handlers:
        """What this (the main) process does with its HTTP workers' messages."""
        return Handlers(
            wake_outbox=lambda: self.after_lull(self.wake_outbox),
            reschedule=lambda incident_id: _submit(self.post_ack, self.scheduler.reschedule,
                                                   incident_id),
            schedule=lambda incident: _submit(self.post_ack, self.scheduler.schedule, incident),
            # at once, on the pipe's thread: before the plans that follow it on the pipe
            forget_settings=self.service.workspaces.forget,
            wake_intake=self.drain.wake if self.drain else lambda: None)

    def socket_handler(self, app_token: str) -> Any:
        from bot.socket_mode import TimedSocketModeHandler

        return TimedSocketModeHandler(self.app, app_token=app_token, load=self.load)


def http_worker(conn: Any, sock: Any, settings: Settings, threads: int) -> None:
    """One HTTP worker process (`bot.http_workers`): the app without scheduler or outbox,
    served on the shared socket `sock`; after-the-ack work goes to the main process."""
    from bot.redact import configure_logging

    configure_logging(settings)
    runtime = Runtime.build(settings, migrate=False, outbox_processes=0, relay=Relay(conn))
    server = serve(runtime.wsgi(), threads=threads, sock=sock, load=runtime.load)
    signal.signal(signal.SIGTERM, lambda *_: server.close())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process stops us (Ctrl-C reaches both)
    conn.send_bytes(READY)
    try:
        with contextlib.suppress(OSError):
            server.run()
    finally:
        runtime.stop()

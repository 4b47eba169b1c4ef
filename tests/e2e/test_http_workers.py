"""`CRISISBOT_HTTP_WORKERS`: several processes ack on one port (bot/http_workers.py), and the
scheduler and the outbox still run once, in the main process: an incident opened through a
worker gets exactly one channel and its reminders planned by the main process's scheduler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.http_workers import SAVED, WAKE, Relay
from bot.local.sandbox import ALICE, LocalBot
from bot.runtime import Runtime
from playbook.store.tables import IncidentRow


def _burst(count: int, send: Callable[[int], Any]) -> list[Any]:
    gate = threading.Barrier(count, timeout=30)
    out: list[Any] = [None] * count

    def run(i: int) -> None:
        gate.wait()
        out[i] = send(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_two_http_processes_ack_and_the_main_one_runs_outbox_and_reminders() -> None:
    with LocalBot(start_scheduler=True, kind=True) as bot:  # tiers would slow 20+ channels
        rt = bot.runtime
        assert rt is not None
        served_here = [0]
        own = rt.wsgi

        def counted() -> Any:  # count the requests this (the main) process answers
            app = own()

            def wsgi(environ: dict, start_response: Any) -> Any:
                served_here[0] += 1
                return app(environ, start_response)
            return wsgi

        rt.wsgi = counted  # type: ignore[method-assign]
        server = rt.http_server(0, host="127.0.0.1", workers=2, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            assert len(server.workers.pids()) == 1, "one worker besides this process"
            url = f"http://127.0.0.1:{server.effective_port}/slack/events"
            replies: list[Any] = []
            for round_ in range(5):  # the kernel picks the process; soon both have answered
                replies += _burst(20, lambda i, base=20 * round_: bot.slack.command(
                    url, f"open Customer {base + i}: checkout fails", user_id=ALICE))
                if served_here[0] < len(replies):
                    break
            assert all(r.ok and "Opened *INC-" in r.body["text"] for r in replies)
            assert served_here[0] < len(replies), "the worker process answered none"
            bot.settle(timeout=60)
            with rt.service.sessions() as session:
                rows = session.query(IncidentRow.id, IncidentRow.channel_id).all()
            assert len(rows) == len(replies)
            channels = [c for _, c in rows]
            assert None not in channels and len(set(channels)) == len(rows), \
                "one channel per incident: the outbox ran once"
            incident_channels = [c for c in bot.slack.channels.values()
                                 if c.name.startswith("inc-")]
            assert len(incident_channels) == len(rows)
            bot.slack.wait_for(lambda: all(rt.scheduler.planned_at(i) is not None
                                           for i, _ in rows), 10,
                               message="every incident's reminders planned here")
            assert bot.slack.violations == []
        finally:
            server.close()
            thread.join(10)


def test_a_worker_starts_nothing_and_hands_after_ack_work_to_the_main_process() -> None:
    """A worker's Runtime (built with a relay) never starts a scheduler or an outbox; after
    an open it sends a wake-up and the incident as saved down its pipe."""
    import multiprocessing
    import pickle

    with LocalBot() as bot:
        assert bot.runtime is not None
        mine, theirs = multiprocessing.Pipe(duplex=False)
        worker = Runtime.build(bot.runtime.settings, migrate=False, outbox_processes=0,
                               relay=Relay(theirs))
        try:
            assert worker.deps is not None
            outcome = worker.service.open(bot.slack.team_id, worker.deps.people.actor(ALICE),
                                          "Initech: invoices are wrong")
            worker.deps.after(outcome, saved=True)  # what commands.py does after the ack
            messages = [mine.recv_bytes() for _ in range(2) if mine.poll(5)]
            assert messages[0] == WAKE and messages[1].startswith(SAVED), messages
            sent = pickle.loads(messages[1][1:])
            assert (sent.id, sent.version) == (outcome.incident.id, outcome.incident.version)
            assert not worker.scheduler.scheduler.running, "a worker runs no scheduler"
            assert worker.outbox_processes is None and worker.worker._threads == [], \
                "a worker runs no outbox"
        finally:
            worker.stop()


def test_a_timing_changed_in_a_worker_is_planned_here_with_the_new_timing() -> None:
    """An admin's request lands on a worker and moves the nudge from 5 to 10 minutes before
    due. The worker relays the workspace's open incidents to the main process, which plans
    them: with the new timing, not with the settings it had cached (for up to
    `playbook.services.settings.TTL`; an hour here, so the test cannot pass by waiting)."""
    import multiprocessing

    from bot.listeners.settings import after_change
    from playbook.services.settings import Editor

    ada = "U0ADA"
    with LocalBot(start_scheduler=True) as bot:
        rt = bot.runtime
        assert rt is not None
        bot.slack.add_user(ada, "ada", admin=True)
        rt.service.workspaces.ttl = 3600.0
        bot.command("open Acme: lobby screens down")
        room = bot.incident_channel()
        bot.command("own", channel=room)
        bot.command("cadence 30m", channel=room)
        inc = rt.service.get(bot.slack.team_id, 1)
        assert inc.id is not None
        rt.post_ack.submit(lambda: None).result(10)  # what the commands moved is planned
        before = rt.scheduler.planned_at(inc.id)
        assert before is not None, "the nudge is planned"
        mine, theirs = multiprocessing.Pipe(duplex=False)
        worker = Runtime.build(rt.settings, migrate=False, outbox_processes=0,
                               relay=Relay(theirs))
        try:
            assert worker.deps is not None
            changed = worker.service.workspaces.change(bot.slack.team_id, Editor(ada, True),
                                                       {"nudge-before": "10m"})
            after_change(worker.deps, bot.slack.team_id, ada, changed)  # as its listener does
            handlers = rt.relay_handlers()
            while True:  # this process's side of the pipe (`HttpWorkers._listen`)
                assert mine.poll(10), "the worker relayed the incident to plan"
                message = mine.recv_bytes()
                handlers.handle(message)
                if message.startswith(SAVED):
                    break
            rt.post_ack.submit(lambda: None).result(10)  # the relayed plan ran
            after = rt.scheduler.planned_at(inc.id)
            assert after is not None and before - after == timedelta(minutes=5), (before, after)
        finally:
            worker.stop()

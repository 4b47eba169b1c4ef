"""`CRISISBOT_HTTP_WORKERS`: several processes ack on one port (bot/http_workers.py), and the
scheduler and the outbox still run once, in the main process: an incident opened through a
worker gets exactly one channel and its reminders planned by the main process's scheduler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.http_workers import INTAKE, SAVED, WAKE, Relay
from bot.local.sandbox import ALICE, LocalBot
from bot.runtime import Runtime
from playbook.store.intake import IntakeRow
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
    # intake off (CRISISBOT_INTAKE_AFTER=0): each ack here opens its incident itself; the
    # intake through a worker is tested below
    with LocalBot(start_scheduler=True, kind=True,  # tiers would slow 20+ channels
                  settings={"intake_after": 0}) as bot:
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


def test_a_worker_records_under_load_and_the_main_process_opens_it() -> None:
    """A worker (built with a relay) records the raw command and relays the wake-up; only the
    main process runs the intake's drain, which opens the command once."""
    import multiprocessing

    with LocalBot(settings={"intake_after": 1}) as bot:
        rt = bot.runtime
        assert rt is not None and rt.drain is not None
        mine, theirs = multiprocessing.Pipe(duplex=False)
        worker = Runtime.build(rt.settings, migrate=False, outbox_processes=0,
                               relay=Relay(theirs))
        try:
            assert worker.deps is not None and worker.deps.intake is not None
            assert worker.drain is None, "a worker runs no drain"
            url = bot.slack.issue_response_url("command", user_id=ALICE,
                                               channel_id=bot.general.id)
            worker.deps.intake.record(team_id=bot.slack.team_id, user_id=ALICE,
                                      channel_id=bot.general.id, text="Initech: invoices wrong",
                                      response_url=url)
            worker.deps.intake.wake()  # what commands.py does after the ack
            assert mine.poll(5)
            message = mine.recv_bytes()
            assert message == INTAKE, message
            rt.relay_handlers().handle(message)  # what the main process does with it
            bot.settle()
            incidents = rt.service.list_incidents(bot.slack.team_id)
            assert [(i.number, i.customer) for i in incidents] == [(1, "Initech")]
            told = [p.text for p in bot.slack.responses if url.endswith(f"/respond/{p.url_id}")]
            assert any(t.startswith("Opened *INC-1* for Initech.") for t in told), told
        finally:
            worker.stop()


def test_intake_through_a_worker_under_a_burst_opens_each_request_once() -> None:
    """Every open of a burst over two processes takes the intake (threshold 1): each ack
    says "recorded", each request then hears its own number, once, and gets one channel."""
    with LocalBot(kind=True, settings={"intake_after": 1}) as bot:  # tiers: 20 channels
        rt = bot.runtime
        assert rt is not None
        server = rt.http_server(0, host="127.0.0.1", workers=2, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.effective_port}/slack/events"
            replies = _burst(20, lambda i: bot.slack.command(
                url, f"open Customer {i}: checkout fails", user_id=ALICE))
            assert all(r.ok and "Recorded" in r.body["text"] for r in replies)
            bot.settle(timeout=60)
            with rt.service.sessions() as session:
                rows = session.query(IncidentRow.number, IncidentRow.customer,
                                     IncidentRow.channel_id).all()
                done = session.query(IntakeRow.outcome).all()
            assert sorted(n for n, _, _ in rows) == list(range(1, 21))
            assert sorted(c for _, c, _ in rows) == sorted(f"Customer {i}" for i in range(20))
            assert [o for (o,) in done] == ["opened"] * 20
            channels = [c for _, _, c in rows]
            assert None not in channels and len(set(channels)) == 20
            by_customer = {c: n for n, c, _ in rows}
            for i, reply in enumerate(replies):
                sent = reply.sent["response_url"]
                told = [p.text for p in bot.slack.responses
                        if sent.endswith(f"/respond/{p.url_id}") and p.text.startswith("Opened")]
                assert told == [f"Opened *INC-{by_customer[f'Customer {i}']}* for Customer {i}. "
                                "Creating the incident channel…"], told
            assert bot.slack.violations == []
        finally:
            server.close()
            thread.join(10)

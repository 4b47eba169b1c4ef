"""Client CPU and wall time per Web API call: stock WebClient vs KeepAliveWebClient.

The bot's outbox makes two Web API calls per reminder (``chat.postMessage``, ``chat.update``).
slack_sdk's stock client opens a new connection per call; ``bot.slack.keepalive.KeepAliveWebClient``
(what ``bot.slack.client.make_client`` returns) keeps one per thread. This measures, per call and in
rounds alternating between the two clients, the calling process's CPU (``time.process_time``:
every thread of this process, nothing else runs in it), the wall time, and the local Slack's
CPU (it runs in its own process, so it does not share this process's CPU or GIL). Both clients
get the retry handlers ``make_client`` sets. Run:

    .venv/bin/python bench/slack_calls.py                     # 5 rounds x 1000 calls each
    .venv/bin/python bench/slack_calls.py --method update --threads 4 --rounds 3

Everything is on 127.0.0.1, so "wall" is mostly CPU (client and server) and scheduling; over
a real network each new connection also costs a TCP (and TLS) handshake round trip, which
this does not show. The machine is shared: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.client import make_client

MAX_CALLS = 100_000
CHILD_TIMEOUT_S = 30.0


def _slack_child(conn: Any) -> None:
    """The local Slack, in its own process: answers "cpu", "conns" and "stop"."""
    from bot.local.localslack import LocalSlack

    with LocalSlack(kind=True) as slack:  # kind: measures our calls, not Slack's tiers
        channel = slack.add_channel("bench-calls", bot_member=True).id
        ts = slack.add_message(channel, slack.bot_user_id, "card").ts
        conn.send({"api_url": slack.api_url, "token": slack.bot_token, "channel": channel,
                   "ts": ts})
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if not conn.poll(5.0):
                continue
            op = conn.recv()
            if op == "cpu":
                conn.send(time.process_time())
            elif op == "conns":
                conn.send(len(slack.http_connections))
            else:
                conn.send(True)
                return


def _ask(conn: Any, op: str) -> Any:
    conn.send(op)
    if not conn.poll(CHILD_TIMEOUT_S):
        raise TimeoutError(f"local Slack: no answer to {op!r}")
    return conn.recv()


def _round(client: WebClient, info: dict[str, Any], method: str, calls: int,
           threads: int) -> tuple[float, float]:
    """Make ``calls`` calls over ``threads`` threads; returns (process CPU s, wall s)."""
    channel, ts = info["channel"], info["ts"]

    def work(n: int) -> None:
        for i in range(n):
            if method == "post":
                client.chat_postMessage(channel=channel, text=f"reminder {i}")
            else:
                client.chat_update(channel=channel, ts=ts, text=f"card {i}")

    share = [calls // threads + (1 if t < calls % threads else 0) for t in range(threads)]
    workers = [threading.Thread(target=work, args=(n,)) for n in share]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1000, help="calls per round and client")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="calling threads sharing a client")
    p.add_argument("--method", choices=("post", "update"), default="post",
                   help="chat.postMessage (default) or chat.update")
    args = p.parse_args(argv)
    if not (1 <= args.calls <= MAX_CALLS and 1 <= args.rounds <= 50
            and 1 <= args.threads <= 32):
        p.error("calls 1..100000, rounds 1..50, threads 1..32")

    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=_slack_child, args=(child_conn,), daemon=True)
    proc.start()
    child_conn.close()
    try:
        if not conn.poll(CHILD_TIMEOUT_S):
            raise TimeoutError("the local Slack did not start")
        info = conn.recv()
        settings = Settings(slack_bot_token=info["token"], slack_api_url=info["api_url"])
        keep = make_client(settings)
        stock = WebClient(token=keep.token, base_url=keep.base_url, timeout=keep.timeout,
                          retry_handlers=list(keep.retry_handlers))
        clients = {"stock": stock, "keep-alive": keep}
        results: dict[str, list[tuple[float, float, float, int]]] = {k: [] for k in clients}
        for client in clients.values():  # warm-up: imports, first connection
            _round(client, info, args.method, 50, args.threads)
        for _ in range(args.rounds):
            for name, client in clients.items():
                conns0, scpu0 = _ask(conn, "conns"), _ask(conn, "cpu")
                cpu, wall = _round(client, info, args.method, args.calls, args.threads)
                scpu, conns = _ask(conn, "cpu") - scpu0, _ask(conn, "conns") - conns0
                results[name].append((cpu, wall, scpu, conns))
        keep.close()
        _ask(conn, "stop")
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()  # our own child, by its handle
            proc.join(5)

    what = "chat.postMessage" if args.method == "post" else "chat.update"
    print(f"{what}: {args.rounds} rounds x {args.calls} calls per client, "
          f"{args.threads} thread(s); load average {os.getloadavg()[0]:.1f}")
    print("per call, median of rounds (min..max)")
    print(f"{'client':<11} {'client CPU ms':>22} {'wall ms':>22} {'local Slack CPU ms':>22}"
          f" {'connections':>12}")
    for name, rows in results.items():
        cols = []
        for i in range(3):
            per = [r[i] / args.calls * 1e3 for r in rows]
            cols.append(f"{statistics.median(per):.3f} ({min(per):.3f}..{max(per):.3f})")
        conns = statistics.median(r[3] for r in rows)
        print(f"{name:<11} {cols[0]:>22} {cols[1]:>22} {cols[2]:>22} {conns:>12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`bot.listeners.deps.Forms`: modals opened after the ack, on a few threads of their own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.listeners.deps import FormRequest, Forms


class _Slack:
    """views.open answering at once, each call counted."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.lock = threading.Lock()
        self.second = threading.Event()

    def views_open(self, *, trigger_id: str, view: dict) -> dict[str, Any]:
        with self.lock:
            self.opened.append(trigger_id)
            if len(self.opened) == 2:
                self.second.set()
            return {"ok": True, "view": {"id": f"V{len(self.opened)}"}}


def test_a_slow_follow_up_does_not_hold_the_next_forms_views_open() -> None:
    """One thread opens forms here. The first form's follow-up (the capture shortcut's
    lookups and views.update) blocks until the test ends it; the second form must open
    meanwhile, since its trigger lives 3 seconds. The follow-up runs on `later` (here a
    pool standing in for the runtime's post-ack thread), and `idle` waits for it."""
    slack = _Slack()
    post_ack = ThreadPoolExecutor(max_workers=1)
    forms = Forms(cast(WebClient, slack), cast(WebClient, slack), workers=1,
                  later=lambda work: post_ack.submit(work) and None)
    release, started, filled = threading.Event(), threading.Event(), []

    def slow_follow_up(view_id: str) -> None:
        started.set()
        release.wait(30)
        filled.append(view_id)

    try:
        forms.open(FormRequest("T1", {"type": "modal"}, "U1", None, then=slow_follow_up))
        assert started.wait(10), "the first form opened and its follow-up began"
        forms.open(FormRequest("T2", {"type": "modal"}, "U2", None,
                               then=filled.append))
        assert slack.second.wait(10), "the second form waited behind the first's follow-up"
        assert slack.opened == ["T1", "T2"]
        assert not forms.idle(), "a follow-up still running counts as a form being opened"
        release.set()
    finally:
        release.set()
        post_ack.shutdown(wait=True)
        forms.close()
    assert filled == ["V1", "V2"], "each follow-up ran, in turn"
    assert forms.idle()


class _Refusing:
    """views.open times out; chat.postEphemeral is refused (the app is not in the channel)."""

    def __init__(self) -> None:
        self.dms: list[tuple[str, str]] = []

    def views_open(self, *, trigger_id: str, view: dict) -> dict[str, Any]:
        raise TimeoutError("timed out")

    def chat_postEphemeral(self, *, channel: str, user: str, text: str) -> None:
        raise SlackApiError("refused", SlackResponse(
            client=None, http_verb="POST", api_url="", req_args={},
            data={"ok": False, "error": "channel_not_found"}, headers={}, status_code=200))

    def chat_postMessage(self, *, channel: str, text: str) -> None:
        self.dms.append((channel, text))


def test_a_form_that_did_not_open_is_told_like_every_other_outcome() -> None:
    """Where the ephemeral message is refused, the person gets a DM, as the outbox's
    `EffectContext.tell` does: one way of telling a person (bot/slack/tell.py)."""
    slack = _Refusing()
    forms = Forms(cast(WebClient, slack), cast(WebClient, slack))
    assert not forms.open_now(FormRequest("T1", {"type": "modal"}, "U1", "C0PRIVATE",
                                          instead="Or type `/incident open`."))
    [(to, text)] = slack.dms
    assert to == "U1" and "couldn't open the form" in text and "/incident open" in text

"""Playing Slack's side: the requests Slack sends to an app, over HTTP or Socket Mode.

Every request is built from the server's own state (the message a button sits on, the
modal being submitted), carries a trigger_id and response_url this server issued and will
check, and is signed exactly as Slack signs it. With ``via="socket"`` the same payload goes
out as a Socket Mode envelope and the ack's payload comes back as the reply body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any, Literal
from urllib.parse import urlencode

from . import payloads
from .api_messages import apply_ack
from .api_views import MAX_STACK, close_stack, new_hash, new_view
from .apibase import fill_ids, message_json
from .limits import check_view
from .models import Channel, Ephemeral, Message, Reply, StoredView
from .state import Workspace

Via = Literal["http", "socket"]
VERIFICATION_TOKEN = "localslack-verification-token"  # the legacy `token` field


def escape(text: str) -> str:
    """Escape ``& < >`` the way Slack escapes what people type (should_escape: true)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _parse_body(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", "replace")
    if not text:
        return None
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class SlackSide(Workspace):
    """Workspace plus the requests Slack makes to the app (commands, actions, events)."""

    # ------------------------------------------------------------------ transport
    def sign(self, body: str | bytes, ts: int | None = None, *,
             secret: str | None = None) -> dict[str, str]:
        """Slack's signature headers for ``body`` (``ts`` defaults to now; pass an old one
        or a wrong ``secret`` to forge a request)."""
        stamp = int(time.time()) if ts is None else ts
        raw = body.decode() if isinstance(body, bytes) else body
        key = (secret if secret is not None else self.signing_secret).encode()
        digest = hmac.new(key, f"v0:{stamp}:{raw}".encode(), hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}

    def send_raw(self, app_url: str, body: str | bytes, headers: dict[str, str], *,
                 timeout: float = 10.0) -> Reply:
        """POST ``body`` with exactly these headers; returns whatever the app answered."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(app_url, data=data, headers=headers, method="POST")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw, status, got = resp.read(), resp.status, dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            raw, status, got = err.read(), err.code, dict(err.headers.items())
        elapsed = time.monotonic() - start
        content_type = next((v for k, v in got.items() if k.lower() == "content-type"), "")
        return Reply(status, _parse_body(raw, content_type), elapsed, got)

    def _socket_deliver(self, envelope: dict[str, Any], timeout: float) -> tuple[bool, Any]:
        raise RuntimeError("Socket Mode needs a started LocalSlack")

    def _send(self, app_url: str | None, *, via: Via, kind: str, payload: dict[str, Any],
              what: str, timeout: float | None, retry_num: int | None = None,
              retry_reason: str | None = None) -> Reply:
        """Deliver one request. kind: slash_commands | interactive | events_api.

        ``timeout`` (None: 10 s over HTTP; over Socket Mode Slack's ack window plus 2 s, since
        an app with no matching listener never acks) bounds the wait for the answer."""
        if via == "socket":
            wait = timeout if timeout is not None else self.ack_timeout + 2.0
            envelope: dict[str, Any] = {
                "envelope_id": secrets.token_hex(16), "type": kind, "payload": payload,
                "accepts_response_payload": kind != "events_api"}
            if kind == "events_api":
                envelope["retry_attempt"] = retry_num or 0
                envelope["retry_reason"] = retry_reason or ""
            start = time.monotonic()
            acked, body = self._socket_deliver(envelope, wait)
            reply = Reply(200 if acked else 0, body, time.monotonic() - start, sent=payload)
        else:
            if not app_url:
                raise ValueError("app_url is required with via='http'")
            headers: dict[str, str] = {}
            if kind == "events_api":
                body_text = json.dumps(payload)
                headers["Content-Type"] = "application/json"
            elif kind == "slash_commands":
                body_text = urlencode(payload)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body_text = urlencode({"payload": json.dumps(payload)})
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            if retry_num is not None:
                headers["X-Slack-Retry-Num"] = str(retry_num)
                headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
            headers.update(self.sign(body_text))
            headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
            reply = self.send_raw(app_url, body_text, headers,
                                  timeout=timeout if timeout is not None else 10.0)
            reply.sent = payload
        if reply.status == 200 and reply.elapsed > self.ack_timeout:
            self.violation(f"{what}: acked after {reply.elapsed:.2f} s; Slack gives up after "
                           f"{self.ack_timeout:g} s and shows the user an error")
        return reply

    # ------------------------------------------------------------------ payload parts
    def _user(self, user_id: str) -> dict[str, Any]:
        user = self._ensure_user(user_id)
        return {"id": user_id, "username": user.name, "name": user.name,
                "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _enterprise(self) -> dict[str, Any] | None:
        """The Grid org requests come from (`api_oauth.as_team`); None outside Grid."""
        org = getattr(self, "enterprise_id", None)
        return {"id": org, "name": org} if org else None

    def _org_wide(self) -> bool:
        return bool(getattr(self, "is_enterprise_install", False))

    def _where(self, channel_id: str | None, user_id: str) -> Channel:
        """The conversation a user acts from: their DM with the bot when None; a channel
        unknown to the server is created (without the bot) as a plain existing channel."""
        with self._lock:
            if channel_id is None:
                return self._dm_channel(user_id)
            chan = self._channels.get(channel_id)
            if chan is None:
                self.add_channel(channel_id.lower(), channel_id=channel_id)
                chan = self._channels[channel_id]
            if not chan.is_im:
                chan.members.add(user_id)  # people act in channels they are in
            return chan

    def _base(self, kind: str, user_id: str) -> dict[str, Any]:
        return {"type": kind, "token": VERIFICATION_TOKEN, "api_app_id": self.app_id,
                "team": self._team(), "user": self._user(user_id),
                "enterprise": self._enterprise(),
                "is_enterprise_install": self._org_wide(),
                "trigger_id": self.issue_trigger(user_id)}

    # ------------------------------------------------------------------ requests
    def command(self, app_url: str | None, text: str, *, user_id: str,
                channel_id: str | None = None, command: str = "/incident",
                team_id: str | None = None, via: Via = "http",
                timeout: float | None = None) -> Reply:
        """A slash command typed by ``user_id`` in ``channel_id`` (None: the DM with the bot).
        ``text`` is what Slack sends: already escaped, mentions as ``<@U123|name>``."""
        chan = self._where(channel_id, user_id)
        if chan.is_archived:
            raise ValueError(f"Slack's client has no message box in archived #{chan.name}: "
                             "nobody can type a command there")
        user = self._ensure_user(user_id)
        form = {
            "token": VERIFICATION_TOKEN, "team_id": team_id or self.team_id,
            "team_domain": self.team_domain, "channel_id": chan.id,
            "channel_name": "directmessage" if chan.is_im else chan.name,
            "user_id": user_id, "user_name": user.name, "command": command, "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "true" if self._org_wide() else "false",
            **({"enterprise_id": org} if (org := getattr(self, "enterprise_id", None)) else {}),
            "response_url": self.issue_response_url("command", user_id=user_id,
                                                    channel_id=chan.id),
            "trigger_id": self.issue_trigger(user_id),
        }
        reply = self._send(app_url, via=via, kind="slash_commands", payload=form,
                           what=f"{command} {text}".strip(), timeout=timeout)
        if reply.ok:
            apply_ack(self, f"ack of {command}", user_id, chan.id, reply.body)
        return reply

    def _locate_message(self, message_ts: str, channel_id: str | None
                        ) -> tuple[Channel, Message | Ephemeral]:
        with self._lock:
            for cid, msgs in self._messages.items():
                if channel_id not in (None, cid):
                    continue
                for msg in msgs:
                    if msg.ts == message_ts:
                        return self._channels[cid], msg
            for eph in self._ephemerals:
                if eph.ts == message_ts and channel_id in (None, eph.channel):
                    return self._channels[eph.channel], eph
        raise LookupError(f"no message {message_ts} in {channel_id or 'any channel'}")

    def _open_view(self, view_id: str, user_id: str) -> StoredView:
        with self._lock:
            stored = self._views.get(view_id)
            if stored is None or stored.closed or stored.user_id != user_id:
                raise LookupError(f"view {view_id} is not open for {user_id}")
            return stored

    def block_action(self, app_url: str | None, *, user_id: str, action_id: str,
                     value: Any = None, message_ts: str | None = None,
                     channel_id: str | None = None, view_id: str | None = None,
                     block_id: str | None = None, selected: Any = None, via: Via = "http",
                     timeout: float | None = None) -> Reply:
        """A user clicks/selects ``action_id`` on a stored message (``message_ts``) or an open
        view (``view_id``: modal or App Home). ``selected`` is the choice for selects and
        pickers (option values, user/channel ids, dates); buttons send their own value."""
        payload = self._base("block_actions", user_id)
        with self._lock:
            if view_id is not None:
                stored = self._open_view(view_id, user_id)
                blocks = stored.view.get("blocks", [])
                block, element = payloads.find_element(blocks, action_id, block_id)
                action = payloads.action_for(block, element, value=value, selected=selected)
                if block.get("type") == "input":
                    key = payloads.INPUTS.get(element.get("type", ""), ("value", None))[0]
                    stored.state.setdefault("values", {}).setdefault(
                        block["block_id"], {})[action_id] = {"type": element.get("type"),
                                                             key: action.get(key)}
                payload["container"] = {"type": "view", "view_id": view_id}
                payload["view"] = self._view_json(stored)
            elif message_ts is not None:
                chan, msg = self._locate_message(message_ts, channel_id)
                block, element = payloads.find_element(msg.blocks or [], action_id, block_id)
                action = payloads.action_for(block, element, value=value, selected=selected)
                is_eph = isinstance(msg, Ephemeral)
                payload["container"] = {"type": "message", "message_ts": msg.ts,
                                        "channel_id": chan.id, "is_ephemeral": is_eph}
                payload["channel"] = {"id": chan.id, "name": chan.name}
                if isinstance(msg, Message):
                    payload["message"] = msg.to_slack(bot_id=self.bot_id, app_id=self.app_id,
                                                      team_id=self.team_id)
                payload["state"] = {"values": {}}
                payload["response_url"] = self.issue_response_url(
                    "action", user_id=user_id, channel_id=chan.id, message_ts=msg.ts,
                    is_ephemeral=is_eph)
            else:
                raise ValueError("block_action needs message_ts or view_id")
        payload["actions"] = [action]
        return self._send(app_url, via=via, kind="interactive", payload=payload,
                          what=f"block_actions {action_id}", timeout=timeout)

    def state_values(self, view_id: str, fields: dict[str, Any] | None = None
                     ) -> dict[str, dict[str, Any]]:
        """``state.values`` for submitting a view, from simple values (see payloads)."""
        with self._lock:
            stored = self._views[view_id]
            return payloads.state_values(stored.view.get("blocks", []), fields)

    def submit_view(self, app_url: str | None, *, user_id: str, view_id: str,
                    values: dict[str, dict[str, Any]] | None = None,
                    fields: dict[str, Any] | None = None, via: Via = "http",
                    timeout: float | None = None) -> Reply:
        """The user presses Submit. ``fields`` are simple values by action_id/block_id;
        ``values`` raw ``state.values`` entries layered on top. The ack's response_action
        (errors/update/push/clear, or none: close) is applied to the modal stack."""
        with self._lock:
            stored = self._open_view(view_id, user_id)
            if stored.type != "modal" or "submit" not in stored.view:
                raise ValueError(f"view {view_id} has no Submit button")
            state = payloads.state_values(stored.view.get("blocks", []), fields)
            for bid, per_action in (values or {}).items():
                state.setdefault(bid, {}).update(per_action)
            stored.state = {"values": state}
            payload = self._base("view_submission", user_id)
            payload.update(view=self._view_json(stored), response_urls=[])
        reply = self._send(app_url, via=via, kind="interactive", payload=payload,
                           what=f"view_submission {stored.view.get('callback_id', '')}",
                           timeout=timeout)
        if reply.ok:
            self._apply_response_action(stored, reply.body)
        return reply

    def _apply_response_action(self, stored: StoredView, body: Any) -> None:
        where = f"view_submission ack ({stored.view.get('callback_id', '')})"
        with self._lock:
            if body in (None, "", {}):
                close_stack(self, stored.user_id, upto=stored.id)
                return
            action = body.get("response_action") if isinstance(body, dict) else None
            if action == "errors":
                inputs = {b.get("block_id") for b in stored.view.get("blocks", [])
                          if b.get("type") == "input"}
                errors = body.get("errors")
                if not isinstance(errors, dict) or not errors:
                    self.violation(f"{where}: response_action errors without an errors object")
                for bid in errors or {}:
                    if bid not in inputs:
                        self.violation(f"{where}: errors names {bid!r}, not an input block_id "
                                       f"of the view (Slack rejects it)")
            elif action in ("update", "push"):
                view = body.get("view")
                problems = check_view(view, pointer="/view")
                for p in problems:
                    self.violation(f"{where}: {p}")
                if problems:
                    return
                view = dict(view)
                view["blocks"] = fill_ids(view.get("blocks") or [])
                if action == "update":
                    stored.view, stored.hash = view, new_hash()
                    stored.updates += 1
                    return
                stack = self._stacks.setdefault(stored.user_id, [])
                if len(stack) >= MAX_STACK:
                    self.violation(f"{where}: push beyond Slack's 3-view stack")
                    return
                new = new_view(self, stored.user_id, view, root=stack[0], previous=stack[-1])
                stack.append(new.id)
            elif action == "clear":
                close_stack(self, stored.user_id)
            else:
                self.violation(f"{where}: body without a valid response_action: {body!r:.200}")

    def close_view(self, app_url: str | None, *, user_id: str, view_id: str,
                   via: Via = "http", timeout: float | None = None) -> Reply | None:
        """The user closes a modal: Slack sends view_closed only if notify_on_close."""
        with self._lock:
            stored = self._open_view(view_id, user_id)
            notify = bool(stored.view.get("notify_on_close"))
            payload = self._base("view_closed", user_id)
            payload.update(view=self._view_json(stored), is_cleared=False)
            close_stack(self, user_id, upto=view_id)
        if not notify:
            return None
        return self._send(app_url, via=via, kind="interactive", payload=payload,
                          what="view_closed", timeout=timeout)

    def message_shortcut(self, app_url: str | None, *, user_id: str, channel_id: str,
                         message_ts: str, callback_id: str, via: Via = "http",
                         timeout: float | None = None) -> Reply:
        chan, msg = self._locate_message(message_ts, channel_id)
        payload = self._base("message_action", user_id)
        payload.update(callback_id=callback_id, action_ts=f"{time.time():.6f}",
                       channel={"id": chan.id, "name": chan.name}, message_ts=msg.ts,
                       response_url=self.issue_response_url("shortcut", user_id=user_id,
                                                            channel_id=chan.id))
        if isinstance(msg, Message):
            payload["message"] = self._message_for_action(msg)
        if chan.is_ext_shared:
            payload["is_ext_shared_channel"] = True
        return self._send(app_url, via=via, kind="interactive", payload=payload,
                          what=f"message_action {callback_id}", timeout=timeout)

    def _message_for_action(self, msg: Message) -> dict[str, Any]:
        """The message as a message_action payload carries it: with its author's profile,
        and for a Slack Connect guest the organisation they belong to."""
        out = msg.to_slack(bot_id=self.bot_id, app_id=self.app_id, team_id=self.team_id)
        with self._lock:
            user = self._users.get(msg.user)
            if user is not None and not msg.is_bot:
                out["user_profile"] = {"real_name": user.real_name or user.name,
                                       "display_name": user.name, "name": user.name,
                                       "team": user.team_id or self.team_id,
                                       "is_restricted": bool(user.team_id)}
                if user.team_id and user.team_id != self.team_id:
                    out["user_team"] = out["source_team"] = user.team_id
        return out

    def global_shortcut(self, app_url: str | None, *, user_id: str, callback_id: str,
                        via: Via = "http", timeout: float | None = None) -> Reply:
        payload = self._base("shortcut", user_id)
        payload.update(callback_id=callback_id, action_ts=f"{time.time():.6f}")
        return self._send(app_url, via=via, kind="interactive", payload=payload,
                          what=f"shortcut {callback_id}", timeout=timeout)

    def event(self, app_url: str | None, event: dict[str, Any], *, event_id: str | None = None,
              retry_num: int | None = None, retry_reason: str | None = None,
              via: Via = "http", timeout: float | None = None) -> Reply:
        """An Events API delivery; pass the same ``event_id`` with ``retry_num`` to replay
        one as Slack's retry does."""
        event = dict(event)
        event.setdefault("event_ts", f"{time.time():.6f}")
        payload = {
            "token": VERIFICATION_TOKEN, "team_id": self.team_id, "api_app_id": self.app_id,
            "event": event, "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
            "authorizations": [{"enterprise_id": getattr(self, "enterprise_id", None),
                                "team_id": self.team_id,
                                "user_id": self.bot_user_id, "is_bot": True,
                                "is_enterprise_install": self._org_wide()}],
            **({"enterprise_id": org} if (org := getattr(self, "enterprise_id", None)) else {}),
        }
        return self._send(app_url, via=via, kind="events_api", payload=payload,
                          what=f"event {event.get('type')}", timeout=timeout,
                          retry_num=retry_num, retry_reason=retry_reason)

    def app_home_opened(self, app_url: str | None, *, user_id: str, via: Via = "http",
                        timeout: float | None = None) -> Reply:
        dm = self._where(None, user_id)
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id,
                                 "channel": dm.id, "tab": "home"}
        home = self.home(user_id)
        if home is not None:
            event["view"] = home
        return self.event(app_url, event, via=via, timeout=timeout)

    def user_message(self, app_url: str | None, *, channel_id: str | None, user_id: str,
                     text: str, thread_ts: str | None = None, via: Via = "http",
                     timeout: float | None = None) -> Reply:
        """A person posts ``text`` (stored like any message), then the message event goes
        to the app."""
        chan = self._where(channel_id, user_id)
        msg = self.add_message(chan.id, user_id, text, thread_ts=thread_ts)
        kind = "im" if chan.is_im else "mpim" if chan.is_mpim else (
            "group" if chan.is_private else "channel")
        event: dict[str, Any] = {"type": "message", "channel": chan.id, "user": user_id,
                                 "text": text, "ts": msg.ts, "event_ts": msg.ts,
                                 "channel_type": kind, "team": self.team_id}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(app_url, event, via=via, timeout=timeout)

    def react(self, app_url: str | None, *, user_id: str, channel_id: str, ts: str,
              name: str = "pushpin", via: Via = "http", timeout: float | None = None) -> Reply:
        """A person adds the reaction ``name`` to a message (recorded as reactions.get shows
        it), then ``reaction_added`` goes to the app: like Slack's, it names the message only
        by channel and ts, never its text."""
        with self._lock:
            msg = self._find_message(channel_id, ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            self._ensure_user(user_id)
            users = self._reactions.setdefault((channel_id, ts), {}).setdefault(name, [])
            if user_id not in users:
                users.append(user_id)
            author = msg.user
        event: dict[str, Any] = {
            "type": "reaction_added", "user": user_id, "reaction": name, "item_user": author,
            "item": {"type": "message", "channel": channel_id, "ts": ts}}
        return self.event(app_url, event, via=via, timeout=timeout)

    def pin(self, app_url: str | None, *, user_id: str, channel_id: str, ts: str,
            via: Via = "http", timeout: float | None = None) -> Reply:
        """A person (or, with the bot's user id, the bot) pins a message, then ``pin_added``
        goes to the app carrying the pinned message, as Slack's does."""
        with self._lock:
            msg = self._find_message(channel_id, ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            self._ensure_user(user_id)
            pins = self._pins.setdefault(channel_id, [])
            if ts not in pins:
                pins.append(ts)
            body = message_json(self, msg)
        event: dict[str, Any] = {
            "type": "pin_added", "user": user_id, "channel_id": channel_id,
            "item": {"type": "message", "channel": channel_id, "created": int(time.time()),
                     "created_by": user_id, "message": body},
            "pin_count": len(pins)}
        return self.event(app_url, event, via=via, timeout=timeout)

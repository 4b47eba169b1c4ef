"""`/incident link <url> [label]`: on the card, in the summary, and as a channel bookmark."""

from __future__ import annotations

from playbook.domain.links import add_link, link_markup, parse_link
from playbook.domain.model import Actor, Incident
from playbook.domain.verbs.base import Ctx, Result

__all__ = ["link"]


def link(inc: Incident, actor: Actor, arg: str, ctx: Ctx) -> Result:
    url, label = parse_link(arg)
    added, entry, bookmark = add_link(inc, actor, url, label, ctx.now)
    return Result(
        f"Linked L{added.number}: {link_markup(added)}. It is on the card and I'm adding it "
        "to the channel's bookmarks.",
        [entry],
        [bookmark],
    )

"""Guarding: refusing a recipient before anything is stored, and what a refusal leaves behind.

Three guards, in this order: ``allowed_countries`` (the number's country), the opt-out list (unless the tag is in
``opt_out_exempt_tags``) and ``recipient_limits`` (counted by the message repository in the transaction that stores
the message, so every process sharing the storage sees the same count). Where the message repository has the
:class:`~smscore.ports.OptOutScreening` role for the configured opt-out list, the list is checked in that same
statement too: one trip to the storage fewer, and no opt-out recorded between a look-up and the insert missed.
A refused message is stored nowhere; it is added to the refusal totals (per reason and tag, shared through the
storage) and announced to the refusal subscribers as a :class:`~smscore.events.Refusal`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from smscore.errors import (
    RecipientNotAllowedError,
    RecipientOptedOutError,
    RecipientRateLimitedError,
    RecipientRefusedError,
    StorageError,
)
from smscore.events import Refusal, notify_refusals
from smscore.flow import Flow, call
from smscore.guards import country_allowed
from smscore.message import SMSMessage
from smscore.ports import OptOutScreening
from smscore.service.context import ServiceContext

__all__ = ["RefusedItem", "SentBatch", "admit", "asks_list", "refuse", "screen", "screens_at_store", "store"]

log = logging.getLogger("smscore.guards")


@attrs.frozen
class RefusedItem:
    """An item of ``send_many`` a guard refused: its index in the call, its number (E.164) and the refusal."""

    index: int
    recipient: str
    error: RecipientRefusedError


class SentBatch(list[SMSMessage]):
    """What ``send_many`` returns: the messages stored and sent, in the order of their items, and ``refused``,
    the items a guard refused (nothing stored for them), in the order of their items."""

    def __init__(self, messages: Iterable[SMSMessage] = (), refused: Iterable[RefusedItem] = ()) -> None:
        super().__init__(messages)
        #: The refused items, by index.
        self.refused: list[RefusedItem] = sorted(refused, key=lambda item: item.index)


def _policy_error(ctx: ServiceContext, draft: SMSMessage, listed: bool) -> RecipientRefusedError | None:
    """Why ``draft`` may not go out by country or opt-out (``listed``: whether its number is on the list), or None."""
    if not country_allowed(draft.recipient, ctx.config.allowed_countries):
        return RecipientNotAllowedError(draft.recipient, draft.tag)
    if listed and asks_list(ctx, draft):
        return RecipientOptedOutError(draft.recipient, draft.tag)
    return None


def asks_list(ctx: ServiceContext, draft: SMSMessage) -> bool:
    """Whether the opt-out list applies to ``draft`` (its tag is not exempt)."""
    return draft.tag is None or draft.tag not in ctx.config.opt_out_exempt_tags


def screens_at_store(ctx: ServiceContext) -> bool:
    """Whether the message repository checks the opt-out list as it stores (:func:`store` with ``screened``)."""
    return _screening(ctx) is not None


def _screening(ctx: ServiceContext) -> OptOutScreening | None:
    """The message repository where it checks the configured opt-out list as it stores, else None."""
    known = ctx.screening
    if known is None or known[0] is not ctx.messages or known[1] is not ctx.opt_outs:
        messages = ctx.messages
        found = messages if isinstance(messages, OptOutScreening) and messages.screens(ctx.opt_outs) else None
        ctx.screening = known = (messages, ctx.opt_outs, found)
    return known[2]


def admit(ctx: ServiceContext, draft: SMSMessage, *, opt_out_confirmation: bool = False) -> Flow[bool]:
    """Raise the :class:`~smscore.errors.RecipientRefusedError` of a draft whose country is not allowed or whose
    number opted out (counted and announced first). ``opt_out_confirmation``: the draft is the one reply that
    confirms an opt-out just recorded (what carriers expect), let through the opt-out list.

    True when the opt-out list is left to :func:`store` (``screened``), which checks it as it stores the draft."""
    error = _policy_error(ctx, draft, listed=False)
    if error is None and not opt_out_confirmation and asks_list(ctx, draft):
        if screens_at_store(ctx):
            return True
        listed = yield from call(ctx.opt_outs.contains, draft.recipient)
        error = _policy_error(ctx, draft, listed=listed)
    if error is not None:
        yield from refuse(ctx, [error])
        raise error
    return False


def screen(
    ctx: ServiceContext, drafts: Sequence[SMSMessage], *, opt_outs: bool = True
) -> Flow[tuple[list[int], list[RefusedItem]]]:
    """The indexes of ``drafts`` the country and opt-out guards let through, and the refused ones (one look-up
    of the opt-out list per call, not per draft; none with ``opt_outs`` false, when :func:`store` checks the list).
    Refusals are not counted here: see :func:`refuse`."""
    asked = {d.recipient for d in drafts if asks_list(ctx, d)} if opt_outs else set()
    listed = (yield from call(ctx.opt_outs.among, asked)) if asked else set()
    kept: list[int] = []
    refused: list[RefusedItem] = []
    for index, draft in enumerate(drafts):
        error = _policy_error(ctx, draft, draft.recipient in listed)
        if error is None:
            kept.append(index)
        else:
            refused.append(RefusedItem(index, draft.recipient, error))
    return kept, refused


def store(
    ctx: ServiceContext, drafts: Sequence[SMSMessage], screened: Sequence[bool] | None = None
) -> Flow[list[SMSMessage | RecipientRefusedError]]:
    """Store ``drafts`` (one transaction); where the tag has a recipient limit, counted in that transaction. One
    entry per draft: the stored message, or the error of one a guard refused (not counted here).

    ``screened`` (only where :func:`screens_at_store`): one flag per draft, true where the opt-out list applies,
    checked by the repository in the statement that stores the drafts."""
    limits = ctx.config.recipient_limits
    repository = _screening(ctx)
    if screened is not None and repository is not None and any(screened):
        return (yield from _store_screened(ctx, repository, drafts, screened))
    if not any(d.tag is not None and d.tag in limits for d in drafts):
        return list((yield from call(ctx.messages.add_many, drafts)))
    stored = yield from call(ctx.messages.add_within_limits, drafts, limits)
    return [
        message if message is not None else _limited(ctx, draft) for draft, message in zip(drafts, stored, strict=True)
    ]


def _store_screened(
    ctx: ServiceContext, repository: OptOutScreening, drafts: Sequence[SMSMessage], screened: Sequence[bool]
) -> Flow[list[SMSMessage | RecipientRefusedError]]:
    stored = yield from call(repository.add_screened, drafts, screened, ctx.config.recipient_limits)
    results: list[SMSMessage | RecipientRefusedError] = []
    for draft, result in zip(drafts, stored, strict=True):
        if isinstance(result, SMSMessage):
            results.append(result)
        elif result == "opted_out":
            results.append(RecipientOptedOutError(draft.recipient, draft.tag))
        else:
            results.append(_limited(ctx, draft))
    return results


def _limited(ctx: ServiceContext, draft: SMSMessage) -> RecipientRateLimitedError:
    """The error of ``draft`` refused by the recipient limit of its tag."""
    limit = ctx.config.recipient_limits[draft.tag or ""]
    return RecipientRateLimitedError(draft.recipient, draft.tag, count=limit.count, per=limit.per)


def refuse(ctx: ServiceContext, errors: Sequence[RecipientRefusedError]) -> Flow[None]:
    """Add ``errors`` to the refusal totals and announce them to the refusal subscribers. A storage that cannot
    count them is logged, never raised: the refusal itself stands."""
    if not errors:
        return
    try:
        yield from call(ctx.refusals.add, Counter((error.reason, error.tag) for error in errors))
    except StorageError as exc:
        log.warning("%d SMS refusal(s) could not be counted: %s", len(errors), exc)
    if ctx.refusal_subscribers:
        at = ctx.clock.now()
        notify_refusals(
            ctx.refusal_subscribers,
            [Refusal(recipient=e.recipient, tag=e.tag, reason=e.reason, at=at, error=str(e)) for e in errors],
        )

"""What the core announces to the protocols, which connect receivers in their AppConfig.ready (the
services never import a protocol).

`conversation_changed` (kwargs `conversation_ids`): messages were stored, a turn finished, a
conversation ended or tokens of it were revoked. Sent once the transaction that did it commits, from
whichever path did it (any protocol, the admin, the lifecycle tasks), so that a protocol's open
connections (Direct Line's WebSockets) read it again and close once their token no longer holds."""

from django.db import transaction
from django.dispatch import Signal

conversation_changed = Signal()


def conversations_changed_announce(conversation_ids) -> None:
    """Send `conversation_changed` for `conversation_ids` when the current transaction commits (at once
    outside one); nothing if it rolls back."""
    ids = [str(conversation_id) for conversation_id in conversation_ids]
    if ids:
        transaction.on_commit(lambda: conversation_changed.send(sender=None, conversation_ids=ids))

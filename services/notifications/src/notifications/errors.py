"""notifications' business errors, each with a stable code."""
from manager_shared.errors import Forbidden


class NotYourMessages(Forbidden):
    code, message = "not_your_messages", "You can only read the delivery log of your own account."


class RecipientUnknown(Exception):
    """An event names an account this service has not heard of. Raised inside
    the consumer, so the event is retried and then dead-lettered, never dropped."""


__all__ = ["NotYourMessages", "RecipientUnknown"]

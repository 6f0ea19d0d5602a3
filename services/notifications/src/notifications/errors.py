"""notifications' business errors, each with a stable code."""
from manager_shared.errors import DomainError, Forbidden


class NotYourMessages(Forbidden):
    code, message = "not_your_messages", "You can only read the delivery log of your own account."


class NotAnOrganizationManager(Forbidden):
    code, message = ("not_an_organization_manager",
                     "Only the organization's legal representatives and administrators can read its delivery log.")


class AccountAndOrganization(DomainError):
    code, status, message = "account_or_organization", 400, "Ask for an account's log or an organization's, not both."


class RecipientUnknown(Exception):
    """An event names an account this service has not heard of. Raised inside
    the consumer, so the event is retried and then dead-lettered, never dropped."""

    safe_to_log = True  # names an account id only: may go into dead-letter headers


__all__ = ["AccountAndOrganization", "NotAnOrganizationManager", "NotYourMessages", "RecipientUnknown"]

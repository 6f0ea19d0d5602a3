"""billing's business errors, each with a stable code."""
from manager_shared.errors import NotFound


class BillingAccountNotFound(NotFound):
    # Also what non-members and members without the right get: existence is not revealed.
    code, message = "billing_account_not_found", "Billing account not found."

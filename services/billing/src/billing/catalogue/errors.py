"""Business errors of the catalogue and subscriptions, each with a stable code."""
from manager_shared.errors import Conflict, DomainError, Forbidden, NotFound


class OfferNotFound(NotFound):
    code, message = "offer_not_found", "No such offer in the catalogue."


class PriceNotFound(NotFound):
    # the offer exists but has no price in this currency and period (yet)
    code, message = "price_not_found", "The offer has no price for this currency and period."


class PeriodNotAvailable(DomainError):
    code, status, message = "period_not_available", 422, "This billing period is not available for this quantity."


class UnknownPeriod(DomainError):
    code, status, message = "unknown_period", 422, "Unknown billing period."


class UnsupportedCurrency(DomainError):
    code, status, message = "unsupported_currency", 422, "Prices are in CHF or EUR."


class PriceVersionExists(Conflict):
    code, message = "price_version_exists", "A price version with this start already exists."


class PriceStartInPast(DomainError):
    # a price change applies to invoices issued after it: the past is not rewritten
    code, status, message = "price_valid_from_in_past", 422, "A new price cannot start in the past."


class OperatorOnly(Forbidden):
    code, message = "billing_operator_only", "Billing operators only."


class SubscriptionNotFound(NotFound):
    # also what a member without the accounting right gets: existence is not revealed
    code, message = "subscription_not_found", "Subscription not found."


class SubscriptionNotRenewable(Conflict):
    code, message = "subscription_not_renewable", "This product is closed or not billed."

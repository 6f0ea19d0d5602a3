"""Business errors of the prepaid account and of payments, each with a stable code."""
from manager_shared.errors import Conflict, DomainError, NotFound


class Unprocessable(DomainError):
    code, status, message = "unprocessable", 422, "The request cannot be processed."


class InsufficientPrepaidBalance(Conflict):
    code, message = "insufficient_prepaid_balance", "The prepaid balance does not cover this amount."


class CurrencyMismatch(Unprocessable):
    code, message = "currency_mismatch", "This organization's prepaid balance is kept in another currency."


class AmountNotPositive(Unprocessable):
    code, message = "amount_not_positive", "The amount must be greater than zero."


class AmountBelowMinimum(Unprocessable):
    code, message = "amount_below_minimum", "The amount is below the minimum top-up."


class AmountAboveMaximum(Unprocessable):
    code, message = "amount_above_maximum", "The amount is above the maximum top-up."


class DailyTopUpLimitReached(Unprocessable):
    code, message = "daily_top_up_limit_reached", "This top-up would exceed today's top-up limit."


class InvalidIban(Unprocessable):
    code, message = "invalid_iban", "The IBAN is not valid."


class AccountHolderRequired(Unprocessable):
    code, message = "account_holder_required", "The account holder's name is required for a bank payout."


class NotRefundableToCards(Unprocessable):
    code, message = ("withdrawal_exceeds_card_top_ups",
                     "The cards this balance came from cannot take this much back: withdraw to an IBAN.")


class IdempotencyKeyRequired(DomainError):
    code, status, message = "idempotency_key_required", 400, "An Idempotency-Key header is required."


class IdempotencyKeyReused(Unprocessable):
    code, message = "idempotency_key_reused", "This Idempotency-Key was used for a different request."


class RequestInProgress(Conflict):
    code, message = "request_in_progress", "A request with this Idempotency-Key is in progress."


class RequestAbandoned(Conflict):
    code = "request_abandoned"
    message = ("This request did not complete and nobody retried it in time; anything it charged was given back. "
               "Send a new request with a new Idempotency-Key.")


class TopUpNotFound(NotFound):
    code, message = "top_up_not_found", "Top-up not found."


class WithdrawalNotFound(NotFound):
    code, message = "withdrawal_not_found", "Withdrawal not found."

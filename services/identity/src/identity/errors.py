"""identity's business errors, each with a stable code."""
from manager_shared.errors import Conflict, DomainError, Unauthorized


class InvalidCredentials(Unauthorized):
    # Same answer for an unknown e-mail and a wrong password (no enumeration).
    code, message = "invalid_credentials", "E-mail or password is incorrect."


class TooManyAttempts(DomainError):
    # The same for every e-mail, existing or not.
    code, status, message = "too_many_attempts", 429, "Too many failed attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class AccountBlocked(DomainError):
    code, status, message = "account_blocked", 403, "This account is blocked. Contact support."


class WrongPassword(DomainError):
    # The caller is signed in: this is about the password re-typed, not the session.
    code, status, message = "wrong_password", 403, "The password is not correct."


class InvalidPhone(DomainError):
    code, status, message = "invalid_phone", 422, "This is not a valid phone number."


class InvalidRefreshToken(Unauthorized):
    code, message = "invalid_refresh_token", "The refresh token is invalid or expired."


class WeakPassword(DomainError):
    code, status, message = "weak_password", 422, "Choose a longer or less common password."


__all__ = ["InvalidPhone", "AccountBlocked", "TooManyAttempts", "WrongPassword", "Conflict", "InvalidCredentials", "InvalidRefreshToken", "WeakPassword"]

"""identity's business errors, each with a stable code."""
from manager_shared.errors import Conflict, DomainError, Unauthorized


class InvalidCredentials(Unauthorized):
    # Same answer for an unknown e-mail and a wrong password (no enumeration).
    code, message = "invalid_credentials", "E-mail or password is incorrect."


class AccountBlocked(DomainError):
    code, status, message = "account_blocked", 403, "This account is blocked. Contact support."


class InvalidRefreshToken(Unauthorized):
    code, message = "invalid_refresh_token", "The refresh token is invalid or expired."


class WeakPassword(DomainError):
    code, status, message = "weak_password", 422, "Choose a longer or less common password."


__all__ = ["AccountBlocked", "Conflict", "InvalidCredentials", "InvalidRefreshToken", "WeakPassword"]

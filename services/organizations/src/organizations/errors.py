"""organizations' business errors, each with a stable code.

403 vs 404: an organization the caller is not a member of answers 404
`organization_not_found`, exactly like one that does not exist; a member
lacking the role or right gets 403 with a code saying what is missing."""
from manager_shared.errors import Conflict, DomainError, Forbidden, NotFound


class OrganizationNotFound(NotFound):
    code, message = "organization_not_found", "Organization not found."


class MemberNotFound(NotFound):
    code, message = "member_not_found", "No such member in this organization."


class TeamNotFound(NotFound):
    code, message = "team_not_found", "No such team in this organization."


class ProductNotFound(NotFound):
    code, message = "product_not_found", "No such product in this organization."


class InvitationNotFound(NotFound):
    code, message = "invitation_not_found", "No such invitation."


class RoleRequired(Forbidden):
    code, message = "role_required", "Only administrators and legal representatives may do this."


class LegalRepresentativeRequired(Forbidden):
    code, message = "legal_representative_required", "Only a legal representative may do this."


class TwoFactorRequired(Forbidden):
    code = "two_factor_required"
    message = "This organization requires two-factor authentication: set it up in your account's security settings."


class RecentSignInRequired(Forbidden):
    code, message = "recent_sign_in_required", "Sign in again (enter your password) to do this."


class LastLegalRepresentative(Conflict):
    code, message = "last_legal_representative", "An organization must keep at least one legal representative."


class Unprocessable(DomainError):
    status = 422


class ConfirmationRequired(Unprocessable):
    code, message = "confirmation_required", "This action needs an explicit confirmation (\"confirm\": true)."


class NotFoundLogo(NotFound):
    code, message = "logo_not_found", "This organization has no logo."

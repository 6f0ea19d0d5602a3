"""organizations' business errors, each with a stable code."""
from manager_shared.errors import NotFound


class OrganizationNotFound(NotFound):
    # Also the answer for organizations the caller is not a member of, so
    # their existence is never revealed.
    code, message = "organization_not_found", "Organization not found."

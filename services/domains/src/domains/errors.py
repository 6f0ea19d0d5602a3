"""domains' business errors, each with a stable code."""
from manager_shared.errors import NotFound


class OrganizationNotFound(NotFound):
    # Non-members get the same answer as for an organization that does not exist.
    code, message = "organization_not_found", "Organization not found."

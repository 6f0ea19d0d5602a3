"""organizations: members, roles, product rights, teams and policies of the Manager."""
__version__ = "0.1.0"

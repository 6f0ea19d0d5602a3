"""domains: domain registrations, expiry, renewal and restore in the Manager."""
__version__ = "0.1.0"

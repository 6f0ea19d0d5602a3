"""Common library of the Manager services.

Holds only what every service needs: event contracts, the outbox/inbox
machinery, token verification, settings, metrics and test fixtures. It has no
domain rules and never imports a service.
"""

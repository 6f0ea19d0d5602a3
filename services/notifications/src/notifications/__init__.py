"""notifications: e-mail and SMS messages made from the platform's events, with a delivery log."""
__version__ = "0.2.0"

"""notifications: e-mail (and later SMS) messages made from the platform's events."""
__version__ = "0.1.0"

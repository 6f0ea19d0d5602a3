"""identity: accounts, sign-in, 2FA and security alerts of the Manager."""
__version__ = "0.1.0"

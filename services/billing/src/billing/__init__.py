"""billing: prepaid account, invoices, payments and promo codes of the Manager."""
__version__ = "0.1.0"

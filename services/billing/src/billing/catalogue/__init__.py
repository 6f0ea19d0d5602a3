"""Catalogue (offers, prices, VAT categories) and subscriptions: renewals and billing periods (BIL-04, BIL-05)."""

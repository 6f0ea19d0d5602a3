"""Invoices: numbering, lines, VAT, states, PDF with QR-bill, Factur-X, CSV export, pro forma (BIL-06, BIL-07)."""

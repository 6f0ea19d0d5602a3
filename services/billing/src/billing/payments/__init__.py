"""Payment means behind one PaymentProvider interface: card (local PSP test mode, webhooks), bank transfer (BIL-03)."""

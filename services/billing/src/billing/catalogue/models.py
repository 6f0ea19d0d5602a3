"""Tables of this feature; they join billing's one registry (billing.models.Base)."""

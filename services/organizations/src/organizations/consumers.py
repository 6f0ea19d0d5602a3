"""organizations' event handlers."""
from __future__ import annotations

from manager_shared.events import (AccountRegistered, BillingAccountOpened, BillingStandingChanged, LoginEmailChanged,
                                   ProductDeprovisioned, ProductProvisioned, TwoFactorDisabled, TwoFactorEnabled)
from manager_shared.runtime import ServiceRuntime

from .details import DetailsService
from .policy import PolicyService
from .products import ProductsService
from .service import OrganizationsService


def register(runtime: ServiceRuntime, service: OrganizationsService, policy: PolicyService,
             products: ProductsService, details: DetailsService) -> None:
    accounts = runtime.consumer("accounts", AccountRegistered.topic)

    @accounts.on(AccountRegistered)
    async def on_account_registered(session, event: AccountRegistered) -> None:
        """Sign-up → the account is known (invitations, mails) and gets its
        personal organization unless an invitation waits for it (IDN-02)."""
        await policy.account_registered(session, event)
        await service.create_personal_organization(session, event)

    @accounts.on(LoginEmailChanged)
    async def on_email_changed(session, event: LoginEmailChanged) -> None:
        await policy.email_changed(session, event)

    @accounts.on(TwoFactorEnabled, TwoFactorDisabled)
    async def on_two_factor_changed(session, event: TwoFactorEnabled | TwoFactorDisabled) -> None:
        """ORG-11: the member's 2FA status, from the count the event carries."""
        await policy.two_factor_changed(session, event)

    catalog = runtime.consumer("products", ProductProvisioned.topic)

    @catalog.on(ProductProvisioned)
    async def on_provisioned(session, event: ProductProvisioned) -> None:
        """ORG-05: the registry learns products from the services that provision them."""
        await products.provisioned(session, event)

    @catalog.on(ProductDeprovisioned)
    async def on_deprovisioned(session, event: ProductDeprovisioned) -> None:
        await products.deprovisioned(session, event)

    billing = runtime.consumer("billing", BillingAccountOpened.topic)

    @billing.on(BillingAccountOpened)
    async def on_billing_account_opened(session, event: BillingAccountOpened) -> None:
        """billing's facts for ORG-14 (a new account: no invoice, zero balance)."""
        await details.billing_account_opened(session, event)

    @billing.on(BillingStandingChanged)
    async def on_billing_standing_changed(session, event: BillingStandingChanged) -> None:
        """billing's unpaid invoices and prepaid balance, for ORG-14's deletion check."""
        await details.billing_standing_changed(session, event)

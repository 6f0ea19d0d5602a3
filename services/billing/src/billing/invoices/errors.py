"""Business errors of invoices and bank transfers, each with a stable code."""
from manager_shared.errors import Conflict, DomainError, Forbidden, NotFound


class InvoiceNotFound(NotFound):
    # Also for another organization's invoice: existence is not revealed.
    code, message = "invoice_not_found", "Invoice not found."


class InvoiceAlreadyPaid(Conflict):
    code, message = "invoice_already_paid", "This invoice is already paid."


class InvoiceNotPayable(Conflict):
    code, message = "invoice_not_payable", "This invoice can no longer be paid."


class InvoiceNotPaid(Conflict):
    # BIL-06: the final invoice's document exists only once it is paid.
    code, message = "invoice_not_paid", "The invoice document is available once the invoice is paid."


class InvoiceNotOpen(Conflict):
    code, message = "invoice_not_open", "Only an open invoice has a payment slip."


class NotABusinessInvoice(Conflict):
    code, message = "einvoice_only_for_businesses", "E-invoices (Factur-X) are issued to businesses only."


class InvalidInvoice(DomainError):
    code, status, message = "invalid_invoice_line", 422, "An invoice line is invalid."


class CurrencyNotSupported(DomainError):
    code, status, message = "currency_not_supported", 422, "Invoices are in CHF or EUR."


class VatRateUnknown(DomainError):
    code, status, message = "vat_rate_unknown", 422, "No VAT rate is known for this country and category."


class InvalidVatNumber(DomainError):
    code, status, message = "invalid_vat_number", 422, "This VAT number is not valid for the billing country."


class ExportTooLarge(DomainError):
    code, status, message = "export_too_large", 422, "The selection is too large to send by e-mail; narrow it."


class RefundTooLarge(Conflict):
    code, message = "refund_exceeds_invoice", "The refund exceeds what remains of the paid invoice."


class OperatorOnly(Forbidden):
    code, message = "operator_scope_required", "This operation needs the billing operator scope."


class CamtMalformed(DomainError):
    code, status, message = "camt_malformed", 422, "The file is not a readable camt.054 credit notification."


class BankPaymentNotFound(NotFound):
    code, message = "bank_payment_not_found", "Bank payment not found."


class BankPaymentAlreadyAssigned(Conflict):
    code, message = "bank_payment_already_assigned", "This bank payment is already matched or assigned."


class AssignmentMismatch(Conflict):
    code, message = "bank_payment_mismatch", "Amount or currency differ from the invoice's."

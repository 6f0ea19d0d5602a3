"""The tests' SMTP catcher keeps what a mail client would show: bodies and
attachments (name, media type, bytes), also over its HTTP view."""
from __future__ import annotations

import base64
import smtplib
from email.message import EmailMessage

import httpx

from manager_shared.testing.ports import free_port
from manager_shared.testing.smtp import MailCatcher


def test_catcher_keeps_attachments_as_bytes_and_shows_them_over_http():
    catcher = MailCatcher(http_port=free_port()).start()
    try:
        csv = "Nummer;Betrag\r\nZürich;1.50\r\n".encode()
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@example.ch", "b@example.ch", "Export"
        mail["Message-ID"] = "<m1@example.ch>"
        mail.set_content("Hallo\n")
        mail.add_attachment(csv, maintype="text", subtype="csv", filename="Rechnungen März.csv")
        mail.add_attachment(bytes(range(256)), maintype="application", subtype="pdf", filename="a.pdf")
        plain = EmailMessage()
        plain["From"], plain["To"], plain["Subject"] = "a@example.ch", "c@example.ch", "Plain"
        plain.set_content("no files\n")
        with smtplib.SMTP("127.0.0.1", catcher.smtp_port) as smtp:
            smtp.send_message(mail)
            smtp.send_message(plain)
        first, second = catcher.wait_for(lambda m: True, count=2, timeout=10)
        assert first["text"].strip() == "Hallo" and second["attachments"] == []
        assert first["attachments"] == [
            {"filename": "Rechnungen März.csv", "media_type": "text/csv", "content": csv},
            {"filename": "a.pdf", "media_type": "application/pdf", "content": bytes(range(256))}]
        assert catcher.files["<m1@example.ch>"][1] == ("a.pdf", "application/pdf", bytes(range(256)))
        shown = httpx.get(f"http://127.0.0.1:{catcher.http_port}/messages").json()
        assert [(a["filename"], a["size"], base64.b64decode(a["content_base64"])) for a in shown[0]["attachments"]] \
            == [("Rechnungen März.csv", len(csv), csv), ("a.pdf", 256, bytes(range(256)))]
        page = httpx.get(f"http://127.0.0.1:{catcher.http_port}/").text
        assert "attached: a.pdf (application/pdf, 256 bytes)" in page
        catcher.clear()
        assert catcher.messages == [] and catcher.files == {}
    finally:
        catcher.stop()

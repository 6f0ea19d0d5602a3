"""Files a message carries (e.g. the CSV export of invoices, BIL-06).

A catalog entry names a function that takes the files from its event; they
are stored with the queued message (JSON, content in base64) so a retry
after an SMTP failure still has them, and reduced to their names and sizes
once the message is final (sent or given up): like a one-time code, the
content has no business staying in the delivery log.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

# A MIME type with optional parameters, e.g. `text/csv; charset=utf-8`: nothing
# that could end a header line or open another one.
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*"
                         r"(?:; ?[a-z0-9_-]+=(?:[a-z0-9_.-]+|\"[a-z0-9_. -]+\"))*$", re.IGNORECASE)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\"]")
# What an SMTP relay commonly accepts in one mail is 10 to 25 MB; base64 adds a third.
MAX_TOTAL_BYTES = 7 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes

    def __post_init__(self) -> None:
        if not _MEDIA_TYPE.match(self.media_type):
            raise ValueError(f"not a media type: {self.media_type!r}")

    @property
    def safe_filename(self) -> str:
        """No path, quote or control character (it goes in a header); never empty."""
        name = _UNSAFE_NAME.sub("_", self.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")
        return name[:150] or "attachment"


def stored(attachments: list[Attachment]) -> str | None:
    """The column's value for a queued message (None: no files)."""
    if not attachments:
        return None
    if sum(len(a.content) for a in attachments) > MAX_TOTAL_BYTES:
        # Refused before anything is queued: the event is retried then dead-lettered, never half-sent.
        raise ValueError("attachments too large for one mail")
    return json.dumps([{"filename": a.safe_filename, "media_type": a.media_type, "size": len(a.content),
                        "content": base64.b64encode(a.content).decode("ascii")} for a in attachments])


def loaded(value: str | None) -> list[Attachment]:
    """The files of a queued message; an erased one has none left to send."""
    return [Attachment(item["filename"], item["media_type"], base64.b64decode(item["content"]))
            for item in json.loads(value or "[]") if "content" in item]


def erased(value: str | None) -> str | None:
    """What stays once the message is final: names, types and sizes."""
    if not value:
        return value
    return json.dumps([{k: v for k, v in item.items() if k != "content"} for item in json.loads(value)])


def names(value: str | None) -> list[str]:
    return [item["filename"] for item in json.loads(value or "[]")]

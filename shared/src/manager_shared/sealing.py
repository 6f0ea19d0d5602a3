"""Secrets on the bus (X-06, IDN-16): one-time codes and invitation tokens
travel sealed to a key only notifications holds.

Every service subscribes to the shared topics, and records stay in topic
retention, dead-letter topics and outbox rows; so an event field typed
`SealedSecret` is never written in clear. The producer seals it with HPKE
(RFC 9180, `cryptography`'s implementation: X25519 + HKDF-SHA256 +
ChaCha20-Poly1305) to notifications' current public key; only notifications,
which holds the private keys, opens it to write the mail or SMS.

On the wire a sealed field is `{"kid": ..., "ct": ...}`: `kid` names the key
pair (derived from the public key), `ct` is the HPKE output in base64url. The
HPKE `info` binds the ciphertext to the event (type, id, key) and the field,
so a sealed code cannot be moved into another event or field. An empty `ct`
means the producer erased it from its outbox after publishing.

Rotation: generate a pair (`python -m manager_shared.sealing keygen`), add the
new private key to notifications' list (old ones stay, so events sealed to
them still open), then give producers the new public key; drop an old
private key once no event sealed to it can still be delivered.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import sys
import typing
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from pydantic_core import core_schema

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
INFO_PREFIX = b"manager-seal/v1"
# Validation context key: values parsed from the broker must arrive sealed.
FROM_WIRE = "from_wire"


class SealingError(ValueError):
    """A sealed value cannot be opened (unknown key, tampered, erased). The
    message never contains the value, so it may reach logs and DLQ headers."""

    safe_to_log = True


class SealingNotConfigured(RuntimeError):
    """A service that publishes or reads sealed fields has no key: refuse to
    start rather than send codes in clear or fail each message later."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(public: x25519.X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: x25519.X25519PublicKey) -> str:
    """The key's id: the first 8 bytes of SHA-256 of the raw public key, hex."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def generate_key_pair() -> tuple[str, str]:
    """A new pair as (private, public), each raw 32 bytes in base64url."""
    private = x25519.X25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    return _b64e(raw), _b64e(_raw(private.public_key()))


class SealedSecret:
    """An event field that must never travel in clear.

    In the producer's process it holds the clear value (`SealedSecret.clear`,
    or a plain `str` given to the event); `Event.to_bytes(sealer)` seals it.
    From the wire it holds only `kid` and `ct`. Its repr never shows a value,
    and serializing an unsealed one raises instead of writing it in clear.
    """

    __slots__ = ("kid", "ct", "_clear")

    def __init__(self, kid: str | None = None, ct: str | None = None, *, clear: str | None = None) -> None:
        self.kid, self.ct, self._clear = kid, ct, clear

    @property
    def sealed(self) -> bool:
        return self.kid is not None

    def reveal(self) -> str:
        """The clear value of an unsealed secret (the producer's own copy)."""
        if self._clear is None:
            raise SealingError("a sealed secret has no clear value here: open it with the keyring")
        return self._clear

    def __repr__(self) -> str:
        return f"SealedSecret(kid={self.kid!r})" if self.sealed else "SealedSecret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and (self.kid, self.ct, self._clear) == \
            (other.kid, other.ct, other._clear)

    def __hash__(self) -> int:
        return hash((self.kid, self.ct, self._clear))

    @classmethod
    def _validate(cls, value: Any, info: core_schema.ValidationInfo) -> SealedSecret:
        if isinstance(value, SealedSecret):
            return value
        if isinstance(value, str):
            if info.context and info.context.get(FROM_WIRE):
                raise ValueError("a secret field must arrive sealed as {kid, ct}")
            return cls(clear=value)
        if isinstance(value, dict) and isinstance(value.get("kid"), str) and value["kid"] \
                and isinstance(value.get("ct"), str) and set(value) == {"kid", "ct"}:
            return cls(value["kid"], value["ct"])
        raise ValueError("a secret field must be {kid, ct}")

    def _serialize(self) -> dict[str, str]:
        if not self.sealed:
            raise SealingError("a secret field must be sealed before the event is serialized")
        return {"kid": self.kid, "ct": self.ct}

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema["description"] = ("Sealed to notifications' key: HPKE (RFC 9180) X25519, HKDF-SHA256, "
                                      "ChaCha20-Poly1305; kid = key id, ct = base64url; ct empty once erased "
                                      "from the producer's outbox.")
        return json_schema

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        wire = core_schema.typed_dict_schema({
            "kid": core_schema.typed_dict_field(core_schema.str_schema(min_length=1)),
            "ct": core_schema.typed_dict_field(core_schema.str_schema()),
        })
        return core_schema.with_info_plain_validator_function(
            cls._validate, json_schema_input_schema=wire,
            serialization=core_schema.plain_serializer_function_ser_schema(cls._serialize))


@functools.cache
def sealed_fields(event_type: type) -> tuple[str, ...]:
    """Names of the event type's SealedSecret fields."""
    def is_sealed(annotation: Any) -> bool:
        return annotation is SealedSecret or SealedSecret in typing.get_args(annotation)
    return tuple(name for name, f in event_type.model_fields.items() if is_sealed(f.annotation))


def binding(event: Any, field: str, kid: str) -> bytes:
    """HPKE `info` of one sealed field of one event."""
    return b"\x00".join([INFO_PREFIX, event.type.encode(), str(event.event_id).encode(), event.key.encode(),
                         field.encode(), kid.encode()])


class Sealer:
    """A producer's side: seals to notifications' current public key."""

    def __init__(self, public_key: str) -> None:
        try:
            self.public = x25519.X25519PublicKey.from_public_bytes(_b64d(public_key.strip()))
        except Exception as exc:
            raise SealingNotConfigured("the notifications seal key is not a base64url X25519 public key") from exc
        self.kid = key_id(self.public)

    def seal(self, clear: str, info: bytes) -> SealedSecret:
        return SealedSecret(self.kid, _b64e(SUITE.encrypt(clear.encode(), self.public, info=info)))

    def seal_event(self, event: Any) -> Any:
        """A copy of `event` whose clear secret fields are sealed."""
        update = {}
        for name in sealed_fields(type(event)):
            value = getattr(event, name)
            if isinstance(value, SealedSecret) and not value.sealed:
                update[name] = self.seal(value.reveal(), binding(event, name, self.kid))
        return event.model_copy(update=update) if update else event


class Keyring:
    """notifications' side: every private key still in use, by key id."""

    def __init__(self, private_keys: Iterable[str]) -> None:
        self.keys: dict[str, x25519.X25519PrivateKey] = {}
        for text in private_keys:
            try:
                key = x25519.X25519PrivateKey.from_private_bytes(_b64d(text.strip()))
            except Exception as exc:
                raise SealingNotConfigured("a seal private key is not a base64url X25519 private key") from exc
            self.keys[key_id(key.public_key())] = key
        if not self.keys:
            raise SealingNotConfigured("no seal private key: set NOTIFICATIONS_SEAL_PRIVATE_KEYS "
                                       "(python -m manager_shared.sealing keygen)")

    @classmethod
    def from_setting(cls, value: str | None) -> Keyring:
        """Keys from a comma-separated setting."""
        return cls(k for k in (value or "").split(",") if k.strip())

    def open(self, secret: SealedSecret, info: bytes) -> str:
        if not secret.sealed:
            return secret.reveal()
        key = self.keys.get(secret.kid or "")
        if key is None:
            raise SealingError(f"no private key with id {secret.kid}")
        if not secret.ct:
            raise SealingError("the sealed value was erased by its producer")
        try:
            return SUITE.decrypt(_b64d(secret.ct), key, info=info).decode()
        except Exception:
            raise SealingError(f"sealed value under key {secret.kid} does not open (tampered or misplaced)") \
                from None


def open_event(event: Any, keyring: Keyring | None) -> Any:
    """Open `event`'s secret fields (clear in-process ones need no keyring)."""
    update: dict[str, str] = {}
    for name in sealed_fields(type(event)):
        value = getattr(event, name)
        if not isinstance(value, SealedSecret):
            continue
        if value.sealed and keyring is None:
            raise SealingNotConfigured("a sealed field arrived and this service holds no seal key")
        update[name] = keyring.open(value, binding(event, name, value.kid or "")) if value.sealed \
            else value.reveal()
    return event.model_copy(update=update) if update else event


def producer_sealer(service: str, public_key: str | None, events: Iterable[type] | None = None) -> Sealer | None:
    """The sealer of a producer, or None if it publishes no secret field.
    A producer of secret fields without a key refuses to start."""
    if events is None:
        from .events import ALL_EVENTS as events
    secret_events = sorted(e.__name__ for e in events if e.producer_name == service and sealed_fields(e))
    if public_key and public_key.strip():
        return Sealer(public_key)
    if secret_events:
        raise SealingNotConfigured(
            f"{service} publishes {', '.join(secret_events)}, whose codes must be sealed to notifications' key: "
            f"set {service.upper()}_NOTIFICATIONS_SEAL_KEY (python -m manager_shared.sealing keygen)")
    return None


def _main(argv: list[str]) -> None:
    if argv[1:] != ["keygen"]:
        sys.exit("usage: python -m manager_shared.sealing keygen")
    private, public = generate_key_pair()
    print(f"NOTIFICATIONS_SEAL_PRIVATE_KEYS={private}   # append to the existing list when rotating")
    print(f"<PRODUCER>_NOTIFICATIONS_SEAL_KEY={public}   # identity and organizations; key id {Sealer(public).kid}")


if __name__ == "__main__":
    _main(sys.argv)

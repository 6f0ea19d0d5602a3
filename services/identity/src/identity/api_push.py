"""HTTP API of push approval (IDN-14d): thin routers over factor_push.py.

Three callers: the signed-in holder in the Manager (pairing), the app on a
paired device (its requests are signed with the device key, no bearer
token), and the client waiting in the second step of sign-in (mfa_token)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal, runtime_of

from .api import where
from .db import get_session
from .factor_push import PushFactor
from .schemas import TokenPair
from .schemas_push import (PushAnswer, PushAnswered, PushChallengeRead, PushDeviceFetch, PushDeviceRegister,
                           PushDeviceRegistered, PushPaired, PushPairing, PushPairingStart, PushPending, PushPoll,
                           PushSignInChallenge, PushSignInRequest)

router = APIRouter(prefix="/v1", tags=["push approval"])


def factor_of(request: Request) -> PushFactor:
    return request.app.state.two_factor.kinds["push"]


@router.post("/me/2fa/push", response_model=PushPairing, status_code=status.HTTP_201_CREATED)
async def start_push_pairing(data: PushPairingStart, request: Request, who: Principal = Depends(current_principal),
                             session: AsyncSession = Depends(get_session, scope="function")):
    """Pair the provider's app (IDN-14d; needs a sign-in in the last 5
    minutes): show `pairing_token` to the app as a QR code; once the app has
    registered its key, confirm at /v1/me/2fa/push/pairings/{pairing_id}/confirm."""
    return await factor_of(request).start_pairing(session, who, data.name)


@router.post("/me/2fa/push/pairings/{pairing_id}/confirm", response_model=PushPaired)
async def confirm_push_pairing(pairing_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                               session: AsyncSession = Depends(get_session, scope="function")):
    """Turn on the device the app paired (409 push_pairing_not_ready while the
    app has not answered). The account's first second factor returns the 10
    emergency codes, once."""
    return await factor_of(request).confirm_pairing(session, who, pairing_id)


@router.post("/push/devices", response_model=PushDeviceRegistered, status_code=status.HTTP_201_CREATED)
async def register_push_device(data: PushDeviceRegister, request: Request,
                               session: AsyncSession = Depends(get_session, scope="function")):
    """For the app: register the device's public key (EC P-256 or Ed25519,
    PEM) with the pairing token, signed with the matching private key over
    "manager-push-pair\\n{pairing_token}". Each pairing token pairs one device."""
    return await factor_of(request).register_device(session, data.pairing_token, data.public_key, data.signature,
                                                    data.name)


@router.post("/push/devices/{device_id}/challenges", response_model=list[PushChallengeRead])
async def pending_push_challenges(device_id: uuid.UUID, data: PushDeviceFetch, request: Request,
                                  session: AsyncSession = Depends(get_session, scope="function")):
    """For the app: sign-ins of its account waiting for a YES/NO, with the
    place and device they come from. Signed over
    "manager-push-fetch\\n{device_id}\\n{timestamp}"; the timestamp (Unix
    seconds) must be within a minute of the server's time."""
    return await factor_of(request).pending_for_device(session, device_id, data.timestamp, data.signature)


@router.post("/push/challenges/{challenge_id}/answer", response_model=PushAnswered)
async def answer_push_challenge(challenge_id: uuid.UUID, data: PushAnswer, request: Request,
                                session: AsyncSession = Depends(get_session, scope="function")):
    """For the app: approve or deny a sign-in, signed over
    "manager-push-answer\\n{challenge_id}\\n{answer}\\n{nonce}". Each request
    is answered once; a denial counts as a failed sign-in and shows in the
    account's recent activity."""
    return await factor_of(request).answer(session, challenge_id, data.device_id, data.answer, data.signature)


@router.post("/sessions/mfa/push", response_model=PushSignInChallenge, status_code=status.HTTP_201_CREATED)
async def request_push_approval(data: PushSignInRequest, request: Request):
    """Second step of sign-in by push: ask the account's paired devices to
    approve (valid 2 minutes at most; a new request replaces the previous
    one, three per sign-in at most). Then poll /v1/sessions/mfa/push/poll."""
    return await factor_of(request).request_sign_in(runtime_of(request).db, data.mfa_token, where(request))


@router.post("/sessions/mfa/push/poll", response_model=TokenPair,
             responses={202: {"model": PushPending, "description": "No answer yet: poll again."}})
async def poll_push_approval(data: PushPoll, request: Request):
    """Wait (up to `wait_seconds`) for the device's answer: the tokens once
    approved (the mfa_token is then spent), 202 `pending` meanwhile, 401
    `push_denied` when refused on the device, `push_expired` when it was not
    answered in time. An approved request also finishes the sign-in through
    POST /v1/sessions/mfa with {method: "push", challenge_id}."""
    result = await factor_of(request).poll(runtime_of(request).db, data.mfa_token, data.challenge_id,
                                           data.wait_seconds, where(request))
    if isinstance(result, PushPending):
        return JSONResponse(result.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return result

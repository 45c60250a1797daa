"""An in-memory-simulated supply chain for tests: an operator and named participants with
deterministic keys, and helpers that build correctly signed statements."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from ledger.canonical import JSONObject
from ledger.keys import PrivateKey
from ledger.log import Ledger
from ledger.state import Kind
from ledger.statement import Statement, Submission, prove_possession, sign_statement

ORIGIN = "test.fairledger.example/ledger"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def key_for(name: str) -> PrivateKey:
    """A deterministic key per name, so failures reproduce."""
    return PrivateKey.from_seed(hashlib.sha256(b"fairledger-test-key:" + name.encode()).digest())


@dataclass
class Chain:
    """A ledger plus the keys of everyone on it."""

    ledger: Ledger
    url: str
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    _nonces: count[int] = field(default_factory=lambda: count(1))
    clock: datetime = T0

    @property
    def operator(self) -> PrivateKey:
        return self.keys["operator"]

    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def statement(
        self,
        author: str,
        kind: str,
        body: JSONObject,
        *,
        key: PrivateKey | None = None,
        nonce: str | None = None,
        ledger: str = ORIGIN,
    ) -> Submission:
        signer = key or self.keys[author]
        statement = Statement.build(
            ledger=ledger,
            kind=kind,
            author=author,
            key=signer.public_key.key_id,
            nonce=nonce or f"n-{next(self._nonces):08d}",
            issued_at=self.clock,
            body=body,
        )
        return sign_statement(statement, signer)

    def register_body(
        self, participant: str, roles: list[str], key: PrivateKey | None = None
    ) -> JSONObject:
        new = key or key_for(participant)
        self.keys.setdefault(participant, new)
        roles_json: list[object] = list(roles)
        return {
            "participant": participant,
            "display_name": participant.replace("-", " ").title(),
            "roles": roles_json,  # type: ignore[dict-item]
            "public_key": new.public_key.b64,
            "proof_of_possession": prove_possession(ORIGIN, participant, new),
        }

    def register(self, participant: str, *roles: str) -> int:
        sub = self.statement(
            "operator", Kind.REGISTER, self.register_body(participant, list(roles))
        )
        return self.ledger.submit(sub, now=self.tick()).receipt.seq

    def sale(self, author: str, n: int = 1) -> list[Submission]:
        """``n`` sale reports by ``author``, valid under the contract rules too."""
        return [
            self.statement(
                author,
                Kind.SALE_REPORT,
                {
                    "lot": f"https://id.gs1.org/01/09506000134352/10/LOT-{i}",
                    "period": "2026-11",
                    "quantity": "1",
                    "revenue": {"amount": "1.00", "currency": "EUR"},
                },
            )
            for i in range(n)
        ]


def new_chain(target: Path | str, *parties: tuple[str, tuple[str, ...]]) -> Chain:
    """A fresh ledger with the given (participant, roles) registered, in the SQLite file
    ``target`` (a path) or the empty database ``target`` (a URL)."""
    url = target if isinstance(target, str) else f"sqlite:///{target}"
    operator = key_for("operator")
    ledger = Ledger.create(
        url, origin=ORIGIN, operator_id="operator", operator_key=operator, now=T0
    )
    chain = Chain(ledger, url, {"operator": operator})
    for name, roles in parties:
        chain.register(name, *roles)
    return chain

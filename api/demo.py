"""``fairledger demo``: a small, realistic grain-to-bread ecosystem on the embedded default.

A grain cooperative with three farms, a mill, two bakeries, a café chain and a regional
grocer, plus an auditor. Every participant has its own key in ``$FAIRLEDGER_HOME/keys`` and
signs its own statements; the operator registers them. The demo then runs the auditor's
verification and prints what to try next.

The clock is read once, here in ``api/``; everything below takes ``now``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from api import wiring
from api.settings import Settings
from ledger.canonical import JSONObject
from ledger.errors import ConflictError
from ledger.keys import PrivateKey, save_private_key
from ledger.state import Kind
from ledger.statement import Statement, prove_possession, sign_statement
from ledger.verify import verify_database

ORIGIN = "demo.fairledger.example/grain-coop"


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    roles: tuple[str, ...]
    gln: str


CAST = (
    Member("grain-coop", "Valley Grain Cooperative", ("supplier", "buyer"), "9506000134352"),
    Member("farm-hillside", "Hillside Farm", ("supplier",), "9506000134369"),
    Member("farm-riverbend", "Riverbend Farm", ("supplier",), "9506000134376"),
    Member("farm-oakmeadow", "Oak Meadow Farm", ("supplier",), "9506000134383"),
    Member("mill-valley", "Valley Stone Mill", ("supplier", "buyer"), "9506000134390"),
    Member("bakery-sunrise", "Sunrise Bakery", ("supplier", "buyer"), "9506000134406"),
    Member("bakery-corner", "Corner Loaf Bakery", ("supplier", "buyer"), "9506000134413"),
    Member("cafe-bean", "Bean & Crumb Cafés", ("supplier", "buyer"), "9506000134420"),
    Member("grocer-regional", "Regional Fresh Grocer", ("supplier", "buyer"), "9506000134437"),
    Member("auditor-fair", "Fair Trade Audits Ltd", ("auditor",), "9506000134444"),
)


class Demo:
    """Builds the demo ledger step by step; each step signs as the party that acts."""

    def __init__(self, settings: Settings, now: datetime, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.clock = now - timedelta(days=120)
        self.say = say
        self.keys: dict[str, PrivateKey] = {}
        self.nonce = 0
        operator = self._key("operator")
        self.ledger = wiring.create_ledger(
            settings.url,
            origin=ORIGIN,
            operator_id="operator",
            operator_key=operator,
            now=self.clock,
        )

    def _key(self, participant: str) -> PrivateKey:
        key = PrivateKey.generate()
        save_private_key(self.settings.key_path(participant), key, self.settings.passphrase_bytes)
        self.keys[participant] = key
        return key

    def submit(self, author: str, kind: str, body: JSONObject, *, hours: float = 1) -> int:
        self.clock += timedelta(hours=hours)
        self.nonce += 1
        key = self.keys[author]
        statement = Statement.build(
            ledger=ORIGIN,
            kind=kind,
            author=author,
            key=key.public_key.key_id,
            nonce=f"demo-{self.nonce:06d}",
            issued_at=self.clock,
            body=body,
        )
        return self.ledger.submit(sign_statement(statement, key), now=self.clock).receipt.seq

    def register_everyone(self) -> None:
        for member in CAST:
            key = self._key(member.id)
            self.submit(
                "operator",
                Kind.REGISTER,
                {
                    "participant": member.id,
                    "display_name": member.name,
                    "roles": list(member.roles),
                    "public_key": key.public_key.b64,
                    "proof_of_possession": prove_possession(ORIGIN, member.id, key),
                    "gln": member.gln,
                },
                hours=0.1,
            )
        self.say(f"registered {len(CAST)} participants, each with its own key")

    def rotate_a_key(self) -> None:
        """The mill replaces a key it suspects was copied: the old key signs nothing after."""
        new = PrivateKey.generate()
        self.submit(
            "mill-valley",
            Kind.KEY_ROTATE,
            {
                "new_public_key": new.public_key.b64,
                "proof_of_possession": prove_possession(ORIGIN, "mill-valley", new),
            },
        )
        path = self.settings.key_path("mill-valley")
        path.unlink()
        save_private_key(path, new, self.settings.passphrase_bytes)
        self.keys["mill-valley"] = new
        self.say("mill-valley rotated its key")


MARKER = "FAIRLEDGER-DEMO"


def run_demo(settings: Settings, now: datetime, say: Callable[[str], None]) -> str:
    """Build the demo ledger in ``settings.home`` and verify it; returns the operator vkey.

    A home that an earlier demo made (it holds the marker file) is replaced, so the demo can
    be run again and again; any other non-empty directory is refused with ``ConflictError``,
    so a real ledger is never overwritten.
    """
    home = settings.home
    if home.exists() and any(home.iterdir()):
        if not (home / MARKER).exists():
            raise ConflictError(f"{home} is not empty and not a demo home; refusing to touch it")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("made by `fairledger demo`; safe to delete\n")
    demo = Demo(settings, now, say)
    try:
        demo.register_everyone()
        demo.rotate_a_key()
        vkey = demo.ledger.verifier.vkey
    finally:
        demo.ledger.close()
    report = verify_database(settings.url, operator_vkey=vkey)
    say(
        f"auditor check: {report.records_checked} records, {report.checkpoints_checked} "
        "checkpoints, every signature, key, link and root verified"
    )
    return vkey

"""Key files are PKCS#8 PEM (optionally encrypted); key ids are SHA-256 of the raw key."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from ledger.errors import MalformedKeyError
from ledger.keys import PrivateKey, PublicKey, load_private_key, save_private_key


def test_key_id_is_sha256_of_raw_public_key() -> None:
    key = PrivateKey.from_seed(bytes(32))
    assert key.public_key.key_id == hashlib.sha256(key.public_key.raw).hexdigest()


def test_rfc8032_test_vector_1() -> None:
    # RFC 8032 §7.1 TEST 1: secret key 9d61b1..., public key d75a98..., empty message.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = PrivateKey.from_seed(seed)
    assert key.public_key.raw.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_plain_pem_is_pkcs8_readable_by_other_tools(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "keys" / "farm.pem"
    save_private_key(path, key)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert (
        other.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        == key.public_key.raw
    )
    assert load_private_key(path).public_key == key.public_key


def test_encrypted_pem_needs_the_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    key = PrivateKey.generate()
    save_private_key(path, key, b"correct horse")
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_private_key(path, b"correct horse").public_key == key.public_key
    with pytest.raises(MalformedKeyError, match="passphrase"):
        load_private_key(path)
    with pytest.raises(MalformedKeyError, match="passphrase is wrong"):
        load_private_key(path, b"wrong")


def test_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    save_private_key(path, PrivateKey.generate())
    with pytest.raises(MalformedKeyError, match="refusing to overwrite"):
        save_private_key(path, PrivateKey.generate())


@pytest.mark.parametrize(
    ("text", "message"),
    [("AAAA", "32 bytes"), ("not base64!", "base64"), ("A" * 43, "base64")],
)
def test_bad_public_keys(text: str, message: str) -> None:
    with pytest.raises(MalformedKeyError, match=message):
        PublicKey.from_base64(text)


def test_missing_or_garbage_key_file(tmp_path: Path) -> None:
    with pytest.raises(MalformedKeyError, match="cannot read"):
        load_private_key(tmp_path / "absent.pem")
    (tmp_path / "junk.pem").write_bytes(b"junk")
    with pytest.raises(MalformedKeyError, match="PKCS#8"):
        load_private_key(tmp_path / "junk.pem")

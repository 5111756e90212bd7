"""Encrypted fields with real age keys (pyrage): readable by the owner's and managers' keys, no one else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Crm

PHONE = "13966661234"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private key file per member, made by 'crm key new'; their public keys."""
    public = {}
    for member in ("zhangwei", "lina", "wangfang"):
        monkeypatch.setenv("CRMNOTES_AGE_KEY", str(tmp_path / "keys" / f"{member}.key"))
        public[member] = Crm(tmp_path)("key", "new").stdout.strip()
        assert public[member].startswith("age1")
    assert oct((tmp_path / "keys" / "lina.key").stat().st_mode & 0o777) == "0o600"
    return public


@pytest.fixture
def vault(tmp_path: Path, keys: dict[str, str]) -> Crm:
    Crm(tmp_path)("init", str(tmp_path / "vault"), "--example")
    crm = Crm(tmp_path / "vault")
    config = crm.root / "crmnotes.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"""
encrypt:
  fields: [phone]
members:
  - {{id: zhangwei, name: 张伟, role: rep, age: {keys['zhangwei']}}}
  - {{id: lina, name: 李娜, role: rep, age: {keys['lina']}}}
  - {{id: wangfang, name: 王芳, role: manager, age: {keys['wangfang']}}}
""", encoding="utf-8")
    return crm


def as_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, member: str) -> None:
    monkeypatch.setenv("CRMNOTES_USER", member)
    monkeypatch.setenv("CRMNOTES_AGE_KEY", str(tmp_path / "keys" / f"{member}.key"))


def test_an_encrypted_phone_opens_for_the_owner_and_the_manager_only(vault: Crm, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    as_reader(monkeypatch, tmp_path, "zhangwei")
    ref = vault("add", "远航贸易", "-i", "manufacturing", "--contact", "陈明", "--phone", PHONE).stdout.strip()
    path = vault.root / vault("show", ref, "--json").json()["path"]
    stored = path.read_text(encoding="utf-8")
    assert "phone: age:" in stored and PHONE not in stored and PHONE[1:] not in stored
    assert vault("show", ref, "--json", "--reveal").json()["phone"] == "+86" + PHONE
    assert "139****1234" in vault("show", ref).stdout
    as_reader(monkeypatch, tmp_path, "wangfang")
    assert vault("show", ref, "--json", "--reveal").json()["phone"] == "+86" + PHONE
    as_reader(monkeypatch, tmp_path, "lina")
    assert vault("show", ref, "--json", "--reveal").json()["phone"] == "encrypted"
    monkeypatch.setenv("CRMNOTES_AGE_KEY", str(tmp_path / "nokey"))
    assert vault("show", ref, "--json", "--reveal").json()["phone"] == "encrypted"
    vault("check")  # a sealed value is not a malformed phone


def test_set_seals_a_new_value_and_needs_a_recipient(vault: Crm, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    as_reader(monkeypatch, tmp_path, "wangfang")
    vault("set", "星辰科技", "phone=13700001111")
    path = vault.root / vault("show", "星辰科技", "--json").json()["path"]
    assert "13700001111" not in path.read_text(encoding="utf-8")
    assert vault("show", "星辰科技", "--json", "--reveal").json()["phone"] == "+8613700001111"
    as_reader(monkeypatch, tmp_path, "zhangwei")  # the owner
    assert vault("show", "星辰科技", "--json", "--reveal").json()["phone"] == "+8613700001111"


def test_key_new_refuses_to_overwrite_a_key(tmp_path: Path, keys: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMNOTES_AGE_KEY", str(tmp_path / "keys" / "lina.key"))
    assert "already exists" in Crm(tmp_path)("key", "new", ok=False).stderr

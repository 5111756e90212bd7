"""Everyday record work: tags+= / tags-= in crm set, crm rm archives instead of deleting."""

from __future__ import annotations

from crmnotes.vault import Vault
from tests.conftest import Crm


def test_tags_are_added_and_removed_one_by_one(crm: Crm, example_vault: Vault) -> None:
    before = crm("show", "星辰", "--json").json()["tags"]
    crm("set", "星辰", "tags+=risk/高,needs/training")
    after = crm("show", "星辰", "--json").json()["tags"]
    assert after == [*before, "risk/高", *(["needs/training"] if "needs/training" not in before else [])]
    crm("set", "星辰", "tags-=risk/高")
    assert "risk/高" not in crm("show", "星辰", "--json").json()["tags"]
    crm("set", "星辰", "tags+=risk/高", "tags+=risk/高")
    assert crm("show", "星辰", "--json").json()["tags"].count("risk/高") == 1
    refused = crm("set", "星辰", "tags+=risk/很高", ok=False)
    assert "risk/很高" not in crm("show", "星辰", "--json").json()["tags"] and refused.exit_code != 0


def test_rm_archives_the_file_out_of_listings_and_checks(crm: Crm, example_vault: Vault) -> None:
    shown = crm("show", "星辰", "--json").json()
    original = example_vault.root / shown["path"]
    text = original.read_bytes()
    result = crm("rm", "星辰")
    out = result.stderr + result.stdout
    assert "archived" in out and "archive/" in out
    archived = example_vault.root / "archive" / original.relative_to(example_vault.customers_dir)
    assert not original.exists() and archived.read_bytes() == text  # moved whole, never deleted
    assert shown["id"] not in {c["id"] for c in crm("ls", "--json").json()}
    assert shown["id"] not in {c["id"] for c in crm("due", "--json").json()}
    assert crm("show", "星辰", ok=False).exit_code != 0
    assert crm("check", "--json").json()["errors"] == 0
    original.write_bytes(text)  # the same file again: archiving it must not overwrite the archived copy
    assert "already exists" in crm("rm", shown["id"], ok=False).stderr
    assert archived.read_bytes() == text and original.exists()


def test_set_on_several_customers_previews_asks_and_validates_all_first(crm: Crm, example_vault: Vault) -> None:
    from click.testing import CliRunner

    from crmnotes.cli import main

    names = [c["name"] for c in crm("ls", "--json").json()][:2]
    before = {n: crm("show", n, "--json").json()["grade"] for n in names}
    declined = CliRunner().invoke(main, ["--vault", str(example_vault.root), "set", *names, "grade=C",
                                         "tags+=risk/高"], input="n\n")
    assert declined.exit_code != 0 and "Change 2 customer(s)?" in declined.stderr
    assert all(f"{n} (" in declined.stderr for n in names) and "tags" in declined.stderr
    assert {n: crm("show", n, "--json").json()["grade"] for n in names} == before
    accepted = CliRunner().invoke(main, ["--vault", str(example_vault.root), "set", *names, "grade=C",
                                         "tags+=risk/高"], input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    for name in names:
        shown = crm("show", name, "--json").json()
        assert shown["grade"] == "C" and "risk/高" in shown["tags"]
    refused = crm("set", *names, "grade=Z", "--yes", ok=False)
    assert "Nothing was changed" in refused.stderr
    assert all(crm("show", n, "--json").json()["grade"] == "C" for n in names)


def test_set_by_query_changes_what_the_search_finds(crm: Crm, example_vault: Vault) -> None:
    crm("set", "星辰", "tags+=risk/高")
    changed = crm("set", "--query", "tag:risk/高", "owner=王芳", "--yes", "--json").json()
    assert [c["name"] for c in changed] and all(c["owner"] == "王芳" for c in changed)
    assert any("星辰" in c["name"] for c in changed)


def test_several_contacts_per_company_are_validated_masked_searched_and_deduplicated(
        crm: Crm, example_vault: Vault) -> None:
    crm("contact", "星辰", "陈思远", "--role", "技术负责人", "--phone", "139 1111 2222", "--email", "csy@xingchen.cn")
    crm("contact", "星辰", "林晓", "--role", "决策人", "--phone", "13933334444")
    crm("contact", "星辰", "陈思远", "--role", "CTO")  # the same name: updated, not added twice
    shown = crm("show", "星辰", "--json").json()
    people = {c["name"]: c for c in shown["contacts"]}
    assert set(people) == {"陈思远", "林晓"} and people["陈思远"]["role"] == "CTO"
    assert people["陈思远"]["phone"] == "139****2222"  # masked unless --reveal
    stored = (example_vault.root / shown["path"]).read_text(encoding="utf-8")
    assert "+8613911112222" in stored and "csy@xingchen.cn" in stored
    assert "陈思远 CTO 139****2222" in crm("show", "星辰").stdout
    assert any("星辰" in hit["name"] for hit in crm("search", "陈思远", "--json").json())
    assert any("星辰" in hit["name"] for hit in crm("search", "phone:13933334444", "--json").json())
    assert "not a valid phone" in crm("contact", "星辰", "王五", "--phone", "123", ok=False).stderr
    assert "must not be stored" in crm("contact", "星辰", "王五", "--role", "11010519491231002X", ok=False).stderr
    duplicate = crm("add", "另一家公司", "--industry", "互联网", "--contact", "张三", "--phone", "13933334444",
                    ok=False)
    assert "looks like an existing customer" in duplicate.stderr and "same phone" in duplicate.stderr
    assert crm("check", "--json").json()["errors"] == 0


def test_the_unified_social_credit_code_is_checked_and_finds_the_same_company(crm: Crm) -> None:
    crm("set", "星辰", "credit_code=91350100m000100y43")
    assert crm("show", "星辰", "--json").json()["credit_code"] == "91350100M000100Y43"
    assert "check character is wrong" in crm("set", "星辰", "credit_code=91350100M000100Y44", ok=False).stderr
    other = next(c["name"] for c in crm("ls", "--json").json() if "星辰" not in c["name"])
    crm("set", other, "credit_code=91350100M000100Y43")
    problems = crm("check", "--json").json()["problems"]
    same = [p for p in problems if p["code"] == "duplicate-credit-code"]
    assert len(same) == 1 and ("星辰" in same[0]["message"] or other in same[0]["message"])


def test_archived_customers_are_found_only_with_search_all_and_stay_in_git(crm: Crm, example_vault: Vault) -> None:
    import subprocess

    root = example_vault.root
    git = ["git", "-C", str(root), "-c", "user.name=测试", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    shown = crm("show", "星辰", "--json").json()
    crm("rm", "星辰")
    assert not [h for h in crm("search", "星辰", "--json").json() if h["id"] == shown["id"]]
    found = [h for h in crm("search", "星辰", "--all", "--json").json() if h["id"] == shown["id"]]
    assert len(found) == 1 and found[0]["archived"] and found[0]["path"].startswith("archive/")
    assert "archived: archive/" in crm("search", "星辰", "--all").stdout
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "archive"], check=True)
    status = subprocess.run([*git, "show", "--name-status", "-M", "--format=", "HEAD"], capture_output=True,
                            text=True, check=True).stdout
    assert status.startswith("R100") and shown["path"] in status and "archive/" in status
    archived = "archive/" + shown["path"].split("/", 1)[1]
    history = subprocess.run([*git, "log", "--format=%s", "--follow", "--", archived],
                             capture_output=True, text=True, check=True).stdout.split()
    assert history == ["archive", "start"]


def test_contact_phones_are_masked_in_every_export_unless_revealed(crm: Crm) -> None:
    crm("contact", "星辰", "林晓", "--phone", "13911112222")
    for fmt in ("csv", "json"):
        text = crm("export", "-f", fmt).stdout
        assert "139****2222" in text and "13911112222" not in text
    assert "+8613911112222" in crm("export", "-f", "csv", "--reveal").stdout

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

"""crmnotes.yaml is parsed once; later commands read the parsed data from
.crmnotes/config.json, keyed by the file's whole text.  Real vaults, real
processes for the import check."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crmnotes.config import CONFIG_CACHE, CONFIG_FILE, load_config
from crmnotes.errors import ConfigError
from crmnotes.vault import Vault


def test_the_cached_config_equals_the_parsed_one(example_vault: Vault) -> None:
    path = example_vault.root / CONFIG_FILE
    (example_vault.root / CONFIG_CACHE).unlink(missing_ok=True)
    parsed = load_config(path)
    assert (example_vault.root / CONFIG_CACHE).is_file()
    cached = load_config(path)
    assert cached == parsed
    assert cached.stages.canonical("意向") == parsed.stages.canonical("意向") == "intent"


def test_a_second_process_does_not_import_yaml(example_vault: Vault) -> None:
    code = ("import sys; from pathlib import Path; from crmnotes.config import load_config\n"
            f"config = load_config(Path({str(example_vault.root / CONFIG_FILE)!r}))\n"
            "print(config.stages.canonical('意向'), 'yaml' in sys.modules)")
    outputs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(2)]
    assert outputs[1] == "intent False"


def test_an_edit_of_the_same_size_and_mtime_is_seen(example_vault: Vault) -> None:
    path = example_vault.root / CONFIG_FILE
    load_config(path)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert "意向" in text
    path.write_text(text.replace("意向", "兴趣", 1), encoding="utf-8")  # same length in UTF-8
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    config = load_config(path)
    assert config.stages.canonical("兴趣") == "intent"
    assert config.stages.canonical("意向") == "意向"  # no longer a label: kept as typed


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"version": 1, "text": "x", "data": {}}', b"[1, 2]"])
def test_a_damaged_or_foreign_cache_is_ignored(example_vault: Vault, damage: bytes) -> None:
    path = example_vault.root / CONFIG_FILE
    expected = load_config(path)
    (example_vault.root / CONFIG_CACHE).write_bytes(damage)
    assert load_config(path) == expected


def test_a_broken_config_is_refused_even_after_a_good_one_was_cached(example_vault: Vault) -> None:
    path = example_vault.root / CONFIG_FILE
    load_config(path)
    path.write_text(path.read_text(encoding="utf-8") + "\nchoices: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)

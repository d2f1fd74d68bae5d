"""Every message the pages show has its Chinese translation, and the catalogue carries none
that no page uses (English first, then the catalogue)."""

from __future__ import annotations

import re

from labctl.platform.pages import catalogue

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_every_message_has_a_chinese_translation() -> None:
    used = catalogue.used_messages()
    assert len(used) > 20
    missing = catalogue.missing("zh")
    assert not missing, "no Chinese for:\n" + "\n".join(
        f"{m!r} ({used[m][0]})" for m in missing)


def test_the_catalogue_has_no_message_no_page_uses() -> None:
    unused = sorted(set(catalogue.translations("zh")) - set(catalogue.used_messages()))
    assert not unused, f"translations no page uses: {unused}"


def test_placeholders_survive_translation() -> None:
    for msgid, text in catalogue.translations("zh").items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def test_each_message_is_translated_in_one_file_only() -> None:
    twice = {m: f for m, f in catalogue.files_per_message("zh").items() if len(f) > 1}
    assert not twice, f"translated in more than one file (move them to common.po): {twice}"

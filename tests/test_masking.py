"""Masking, unit by unit and in milliseconds: which names are secret, which values are masked,
in which written forms, across which cuts (runner/log/masking.py), and what is masked in the files
Playwright leaves (runner/log/scrub.py). tests/test_security.py plants secrets through the real
runner; these pin each rule, so that a changed rule (a mutant, `make mutate`) fails here at once.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from pydantic import BaseModel

from runner.config.derived import redactor_for
from runner.config.settings import load_settings
from runner.log.masking import (
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    SecretNames,
    is_secret_name,
    mask_urls,
    mask_value,
    maskable,
    url_secrets,
)
from runner.log.scrub import SNIFF, scrub_tree

SECRET = 'sk-"live\\7f3a-Grüße'  # noqa: S105 - quotes, a backslash, non-ASCII


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("API_TOKEN", True),
        ("api_token", True),  # the name is upper-cased first
        ("MY_SECRET_X", True),
        ("DB_PASSWORD", True),
        ("SSH_PASSPHRASE", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("SENTRY_DSN", True),
        ("KEY", True),
        ("GH_PAT", True),
        ("PAT_X", True),
        ("X_PIN", True),
        ("BASIC_AUTH", True),
        ("MONKEY_PATCH", False),  # KEY inside a word
        ("PATH", False),
        ("SPINNER", False),
        ("AUTH_PROVIDER", False),  # AUTH only ends a name
        ("AUTHOR", False),
        ("PWD", False),  # the shell's directory
        ("OLDPWD", False),
        ("SECRET_ENV_NAMES", False),  # the lists of names themselves
        ("NOT_SECRET_ENV_NAMES", False),
        ("HEALTH_HEADER", False),
    ],
)
def test_built_in_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
    assert SecretNames()(name) is secret


def test_secret_names_are_a_value() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SecretNames().extra = ("X",)  # type: ignore[misc]


def test_extra_and_excluded_names_are_case_insensitive_patterns() -> None:
    names = SecretNames(extra=("my_*", "?_CODE"), excluded=("session_label", "API_*"))
    assert names("MY_THING") and names("my_thing") and names("A_CODE")
    assert not names("AB_CODE") and not names("YOUR_THING")
    assert not names("SESSION_LABEL") and names("SESSION_ID")
    assert not names("API_TOKEN")  # excluded beats the built-in patterns
    assert not SecretNames(extra=("PWD",))("PWD")  # never secret, whatever is added
    assert not SecretNames(extra=("MY_*",), excluded=("MY_*",))("MY_X")  # excluded beats extra


def test_mask_value_masks_by_name_and_urls_by_their_parts() -> None:
    assert mask_value("API_TOKEN", "abc-123") == MASK
    assert mask_value("API_TOKEN", "") == ""  # nothing to hide
    assert mask_value("BASE_URL", "https://u:pw1@h/x?token=t0k&a=1") == (
        f"https://u:{MASK}@h/x?token={MASK}&a=1"
    )


def test_url_secrets_are_the_password_and_secret_looking_query_values() -> None:
    url = "https://bob:p%40ss@host/x?access-token=abc%2Fd&limit=10&session=s1"
    assert set(url_secrets(url)) == {"p%40ss", "p@ss", "abc%2Fd", "abc/d", "s1"}
    assert url_secrets("https://host/x?limit=10&token=") == []  # an empty value is no secret
    assert url_secrets("https://host/?code=9", SecretNames(extra=("CODE",))) == ["9"]
    assert mask_urls("?code=9&x=1", SecretNames(extra=("CODE",))) == f"?code={MASK}&x=1"
    assert mask_urls("https://host/?token=&a=b") == "https://host/?token=&a=b"
    assert mask_urls("see https://host/a and ssh://git@host") == (
        "see https://host/a and ssh://git@host"  # a user without a password is no secret
    )


def test_short_values_and_json_literals_are_never_masked() -> None:
    assert not maskable("x" * (MIN_SECRET_LENGTH - 1))
    assert maskable("x" * MIN_SECRET_LENGTH)
    for literal in ("true", "false", "null", "8080", "-1.5", "2e10", " true "):
        assert not maskable(literal), literal
    assert maskable("true-ish") and maskable("80a80")
    redactor = Redactor(["abc", "true", "abcd"])
    assert redactor.text("abc true abcd") == f"abc true {MASK}"


def test_the_longest_secret_wins_and_every_line_of_a_multi_line_one() -> None:
    redactor = Redactor(["abcd", "abcdefgh", "line-one\nline-two"])
    assert redactor.text("xabcdefghx abcd") == f"x{MASK}x {MASK}"
    assert redactor.bytes(b"xabcdefghx abcd") == b"x****x ****"  # bytes too: not "x****efghx"
    assert redactor.text("got line-two") == f"got {MASK}"
    assert redactor.bytes(b"got line-one\n") == f"got {MASK}\n".encode()


def test_every_written_form_is_masked_in_bytes() -> None:
    redactor = Redactor([SECRET])
    forms = (
        SECRET.encode(),
        json.dumps(SECRET)[1:-1].encode(),  # \\u00fc
        json.dumps(SECRET, ensure_ascii=False)[1:-1].encode(),
        SECRET.replace('"', "&quot;").encode(),  # XML and HTML
    )
    for form in forms:
        assert redactor.bytes(b"<" + form + b">") == b"<****>", form
    assert Redactor(["it's-1a2b"]).bytes(b"it&apos;s-1a2b it&#x27;s-1a2b") == b"**** ****"
    assert Redactor(["a&b<c>-9"]).bytes(b"a&amp;b&lt;c&gt;-9") == b"****"
    assert redactor.text(forms[1].decode()) == forms[1].decode()  # text is masked as it is


def test_bytes_that_are_not_utf8_are_masked_as_bytes() -> None:
    value = os.fsdecode(b"ab\xffcd-99")
    assert Redactor([value]).bytes(b"x ab\xffcd-99 y") == b"x **** y"


def test_without_secrets_nothing_changes_and_nothing_is_held_back() -> None:
    empty = Redactor()
    assert not empty.active and Redactor(["abc"]).active is False
    assert empty.text("t") == "t" and empty.bytes(b"b") == b"b"
    assert empty.safe_cut(b"0123456789") == 10
    assert Redactor(["abcd"]).active


@pytest.mark.parametrize("start", range(16))
def test_safe_cut_never_splits_a_secret(start: int) -> None:
    """16 bytes of a line that goes on, a secret starting at `start` (whole, or cut off at the
    end): what is written now never ends inside it."""
    secret = b"SECRET-77"
    line = (b"x" * start + secret + b"y" * 20)[:16]
    at = Redactor([secret.decode()]).safe_cut(line)
    assert 0 <= at <= len(line)
    assert not start < at < start + len(secret), at


def test_safe_cut_holds_back_one_less_than_the_longest_form() -> None:
    """A secret of 8 bytes or more (no whole-word rule) holds back 8: one more than its length
    less one, since a short secret's whole-word match needs the byte after it too."""
    redactor = Redactor(["abcdefgh"])
    assert redactor.safe_cut(b"0123456789") == 10 - 8
    assert redactor.safe_cut(b"0123") == 0
    assert redactor.safe_cut(b"012345abcdefgh9") == 14  # a whole secret across the cut
    assert redactor.safe_cut(b"abcdefgh" + b"0" * 20) == 28 - 8


def test_safe_cut_looks_past_a_secret_before_the_cut() -> None:
    """A secret ends before the cut and a longer one lies across it: the cut moves after the
    longer one (stopping at the first match would split it)."""
    redactor = Redactor(["wxyz1234", "abcdefghij"])
    assert redactor.safe_cut(b"wxyz1234abcdefghij00") == 18


def test_safe_cut_at_a_secret_that_starts_on_it() -> None:
    """A secret whose escaped forms are longer (a quote: &quot;) holds back more: its raw form
    can start exactly on the cut, and is then written with what follows, not now."""
    redactor = Redactor(['ab"cdefg'])  # the longest form, ab&quot;cdefg, is 13 bytes
    assert redactor.safe_cut(b"0" * 13 + b'ab"cdefg' + b"0" * 5) == 13


class _Model(BaseModel):
    name: str
    items: list[str]
    nested: dict[str, str]
    count: int


def test_models_and_data_are_masked_in_every_string_keys_too() -> None:
    redactor = Redactor(["tok-9f8e"])
    data = {"tok-9f8e": ["a tok-9f8e", ("tok-9f8e", 3)], "n": None, "x": 1.5}
    assert redactor.data(data) == {MASK: [f"a {MASK}", [MASK, 3]], "n": None, "x": 1.5}
    model = _Model(name="tok-9f8e!", items=["tok-9f8e"], nested={"k": "tok-9f8e"}, count=7)
    masked = redactor.model(model)
    assert masked == _Model(name=f"{MASK}!", items=[MASK], nested={"k": MASK}, count=7)
    assert redactor.json(model) == masked.model_dump_json(indent=2) + "\n"  # as every file
    assert Redactor().model(model) is model


def test_redactor_for_masks_every_channel_the_settings_name(tmp_path: Path) -> None:
    header_file = tmp_path / "header"
    header_file.write_text("file-value-5a5a\n")
    credentials = tmp_path / "git"
    credentials.mkdir()
    (credentials / "password").write_text("git-pass-0b0b\n")
    (credentials / "sshPrivateKey").write_text("KEY-LINE-one\nKEY-LINE-two\n")
    checks = [
        {
            "url": "https://h/health?token=query-tok-1c1c",
            "headers": [
                {"header": "X-A", "value_from_env": "PLAIN_A"},
                {"header": "X-B", "value_from_file": str(header_file)},
            ],
        }
    ]
    environ = {
        "ARTIFACT_ROOT": str(tmp_path / "root"),
        "BASE_URL": "https://user:url-pass-2d2d@h",
        "READY_CHECKS": json.dumps(checks),
        "PLAIN_A": "env-value-3e3e",
        "MY_CODE": "named-value-4f4f",
        "SECRET_ENV_NAMES": "MY_*",
        "GIT_CREDENTIALS_DIR": str(credentials),
        "API_TOKEN": "api-value-6a6a",
        "HARMLESS": "plain-value-7b7b",
    }
    redactor = redactor_for(load_settings(environ), environ)
    values = [
        "file-value-5a5a",
        "git-pass-0b0b",
        "KEY-LINE-one",
        "KEY-LINE-two",
        "query-tok-1c1c",
        "url-pass-2d2d",
        "env-value-3e3e",
        "named-value-4f4f",
        "api-value-6a6a",
    ]
    for value in values:
        assert redactor.text(f"<{value}>") == f"<{MASK}>", value
    assert redactor.text("plain-value-7b7b") == "plain-value-7b7b"


def test_redactor_for_survives_files_that_vanished_or_are_not_text(tmp_path: Path) -> None:
    header_file = tmp_path / "header"
    header_file.write_text("file-value-5a5a")
    credentials = tmp_path / "git"
    credentials.mkdir()
    (credentials / "password").write_bytes(b"\xff\xfe not utf-8")  # and no sshPrivateKey
    checks = [
        {"url": "http://h/", "headers": [{"header": "X", "value_from_file": str(header_file)}]}
    ]
    environ = {
        "ARTIFACT_ROOT": str(tmp_path),
        "GIT_CREDENTIALS_DIR": str(credentials),
        "READY_CHECKS": json.dumps(checks),
    }
    settings = load_settings(environ)
    header_file.unlink()
    redactor = redactor_for(settings, {"X_TOKEN": "tok-value-8c8c"})
    assert redactor.text("tok-value-8c8c file-value-5a5a") == f"{MASK} file-value-5a5a"


# -- scrub: Playwright's own files -----------------------------------------------------------
def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_scrub_masks_text_files_and_counts_them(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "junit.xml").write_text('<failure message="got tok-9f8e"/>')
    (tmp_path / "sub" / "results.json").write_text(json.dumps({"m": 'a "tok-9f8e"'}))
    (tmp_path / "clean.txt").write_text("nothing here")
    report = scrub_tree(tmp_path, Redactor(["tok-9f8e"]))
    assert report.files == 2 and report.failed == []
    assert (tmp_path / "junit.xml").read_text() == f'<failure message="got {MASK}"/>'
    assert "tok-9f8e" not in (tmp_path / "sub" / "results.json").read_text()
    assert (tmp_path / "clean.txt").read_text() == "nothing here"
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "clean.txt",
        "junit.xml",
        "results.json",
        "sub",
    ]  # no temporary file left beside


def test_scrub_leaves_binary_files_and_text_after_the_sniff_window(tmp_path: Path) -> None:
    image = b"\x89PNG\0\0" + b"tok-9f8e"
    (tmp_path / "shot.png").write_bytes(image)
    head = b"tok-9f8e "
    last_in = head + b"x" * (SNIFF - len(head) - 1) + b"\0"  # a NUL at byte SNIFF - 1: binary
    first_out = head + b"x" * (SNIFF - len(head)) + b"\0"  # a NUL at byte SNIFF: text
    (tmp_path / "in.bin").write_bytes(last_in)
    (tmp_path / "out.txt").write_bytes(first_out)
    report = scrub_tree(tmp_path, Redactor(["tok-9f8e"]))
    assert (tmp_path / "shot.png").read_bytes() == image
    assert (tmp_path / "in.bin").read_bytes() == last_in
    assert (tmp_path / "out.txt").read_bytes() == b"**** " + first_out[len(head) :]
    assert report.files == 1


def test_scrub_masks_zip_members_keeping_names_and_binary_members(tmp_path: Path) -> None:
    frame = b"\xff\xd8\0tok-9f8e"
    (tmp_path / "trace.zip").write_bytes(
        _zip({"trace.trace": b"tok-9f8e said", "frame.jpeg": frame, "clean": b"ok"})
    )
    (tmp_path / "clean.zip").write_bytes(clean := _zip({"a": b"ok"}))
    assert scrub_tree(tmp_path, Redactor(["tok-9f8e"])).files == 1
    with zipfile.ZipFile(tmp_path / "trace.zip") as archive:
        assert archive.namelist() == ["trace.trace", "frame.jpeg", "clean"]
        assert archive.read("trace.trace") == b"**** said"
        assert archive.read("frame.jpeg") == frame
        assert archive.getinfo("trace.trace").compress_type == zipfile.ZIP_DEFLATED
    assert (tmp_path / "clean.zip").read_bytes() == clean


def test_scrub_masks_the_html_reports_embedded_data(tmp_path: Path) -> None:
    data = base64.b64encode(_zip({"report.json": b'{"title": "tok-9f8e"}'})).decode()
    page = (
        '<html><template id="playwrightReportBase64">data:application/zip;base64,'
        f"{data}</template></html>"
    )
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "other.htm").write_text(page)  # only .html pages are Playwright's report
    scrub_tree(tmp_path, Redactor(["tok-9f8e"]))
    masked = (tmp_path / "index.html").read_text()
    embedded = masked.split("base64,")[1].split("</template>")[0]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(embedded))) as archive:
        assert archive.read("report.json") == b'{"title": "****"}'
    assert (tmp_path / "other.htm").read_text() == page


def test_scrub_leaves_a_bad_embedded_report_as_it_is(tmp_path: Path) -> None:
    page = (
        '<template id="playwrightReportBase64">data:application/zip;base64,abc</template>tok-9f8e'
    )
    (tmp_path / "index.html").write_text(page)
    assert scrub_tree(tmp_path, Redactor(["tok-9f8e"])).failed == []
    assert (tmp_path / "index.html").read_text() == page.replace("tok-9f8e", MASK)


def test_scrub_follows_no_symlink_and_skips_what_it_is_told(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("tok-9f8e")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link-dir").symlink_to(outside)
    (root / "link-file").symlink_to(outside / "secret.txt")
    (root / "verification.log").write_text("tok-9f8e")
    os.mkfifo(root / "junit.xml")
    report = scrub_tree(root, Redactor(["tok-9f8e"]), skip=frozenset({root / "verification.log"}))
    assert (outside / "secret.txt").read_text() == "tok-9f8e"
    assert (root / "verification.log").read_text() == "tok-9f8e"
    assert report.files == 0 and report.failed == []
    assert (root / "link-file").is_symlink()  # left as it is, not replaced by a masked copy


def test_scrub_reports_a_file_it_cannot_rewrite(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("tok-9f8e")
    (tmp_path / f".a.txt.masked-{os.getpid()}").mkdir()  # the temporary name is taken
    report = scrub_tree(tmp_path, Redactor(["tok-9f8e"]))
    assert report.files == 0 and len(report.failed) == 1 and "a.txt" in report.failed[0]
    assert (tmp_path / "a.txt").read_text() == "tok-9f8e"


def test_scrub_without_secrets_reads_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("tok-9f8e")
    (tmp_path / f".a.txt.masked-{os.getpid()}").mkdir()  # a rewrite would fail
    assert scrub_tree(tmp_path, Redactor()).failed == []
    assert len(scrub_tree(tmp_path, Redactor(["tok-9f8e"])).failed) == 1

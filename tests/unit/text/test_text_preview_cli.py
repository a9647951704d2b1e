import json

import pydantic
import pytest

from smsdesk import cli
from smsdesk.text import EmptyMessage, InvalidPhoneNumber, MergeError, TextSettings, preview


def test_preview_plain():
    p = preview("Hello")
    assert (p.encoding, p.segments, p.units, p.characters, p.units_left, p.per_segment) == ("GSM-7", 1, 5, 5, 155, 160)
    assert (p.credits, p.multiplier, p.to, p.country, p.within_limit) == (1, 1, None, None, True)
    assert (p.max_segments, p.max_units, p.smart_encoding, p.replacements) == (10, 1530, False, [])


def test_preview_does_not_raise_when_too_long():
    p = preview("ê" * 202, settings=TextSettings(max_segments=3))
    assert (p.segments, p.within_limit, p.max_units, p.encoding) == (4, False, 201, "UCS-2")
    assert p.non_gsm_characters == ["ê"]


def test_preview_smart_encoding_only_when_enabled():
    text = "It’s “fine” – " + "a" * 150
    assert preview(text).segments == 3
    p = preview(text, settings=TextSettings(smart_encoding=True))
    assert (p.segments, p.encoding, p.text) == (2, "GSM-7", 'It\'s "fine" - ' + "a" * 150)
    assert [(r.char, r.count) for r in p.replacements] == [("’", 1), ("“", 1), ("”", 1), ("–", 1)]


def test_preview_credits_by_recipient_country():
    s = TextSettings(country_multipliers={"FR": 1, "*": 2}, default_region="FR")
    text = "a" * 200  # 2 segments
    assert preview(text, settings=s, to="06 12 34 56 78").credits == 2
    p = preview(text, settings=s, to="+31612345678")
    assert (p.to, p.country, p.multiplier, p.credits) == ("+31612345678", "NL", 2, 4)
    assert preview(text, settings=s).credits == 4  # no recipient: the "*" multiplier
    assert preview(text, settings=s, to="0612345678", default_region="NL").country == "NL"


def test_preview_merge():
    p = preview("Hi {{name|there}} {{code}}", contact={"code": 7})
    assert (p.text, p.merge_fields, p.merged) == ("Hi there 7", ["name", "code"], True)
    p = preview("Hi {{name|there}}")  # no contact: counted as written
    assert (p.text, p.merged, p.characters) == ("Hi {{name|there}}", False, 17)
    with pytest.raises(MergeError):
        preview("Hi {{name}}", contact={})


def test_preview_bad_number_raises():
    with pytest.raises(InvalidPhoneNumber):
        preview("x", to="020 123 4567")


@pytest.mark.parametrize("text", ["", "  \n", "\x00\x1b", "\u200b"])
def test_preview_refuses_a_text_without_content(text):
    with pytest.raises(EmptyMessage):
        preview(text)


def test_preview_refuses_a_text_merged_to_nothing():
    with pytest.raises(EmptyMessage):
        preview("{{name|}}", contact={"name": " "})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_segments": 0},
        {"max_segments": 11},
        {"country_multipliers": {"FR": 0}},
        {"default_region": "NLD"},
        {"unknown": 1},
    ],
)
def test_settings_validation(kwargs):
    with pytest.raises(pydantic.ValidationError):
        TextSettings(**kwargs)


def test_settings_normalise():
    s = TextSettings(country_multipliers={"fr": 2}, default_region="be")
    assert s.country_multipliers == {"FR": 2, "*": 1} and s.default_region == "BE"


def test_cli_preview_json(capsys):
    assert cli.main(["preview", "--json", "--to", "0612345678", "Hello €"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("encoding", "segments", "units", "characters", "credits", "to")} == {
        "encoding": "GSM-7",
        "segments": 1,
        "units": 8,
        "characters": 7,
        "credits": 1,
        "to": "+31612345678",
    }


def test_cli_preview_options(capsys):
    argv = [
        "preview",
        "--json",
        "--smart",
        "--max-segments",
        "1",
        "--multiplier",
        "*=3",
        "--field",
        "name=Ann",
        "Hi {{name}} – " + "a" * 160,
    ]
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["segments"], out["credits"], out["within_limit"], out["encoding"]) == (2, 6, False, "GSM-7")


def test_cli_preview_human(capsys):
    assert cli.main(["preview", "“x”"]) == 0
    out = capsys.readouterr().out
    assert "1 segment, UCS-2, 3 characters" in out and "credits: 1" in out and "'“'" in out


def test_cli_preview_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a" * 161))
    assert cli.main(["preview", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"] == 2


def test_cli_channel_needs_stack(capsys):
    assert cli.main(["preview", "--channel", "ch_1", "hi"]) == 2
    err = capsys.readouterr().err
    assert "ch_1" in err and "deployed stack" in err


def test_cli_errors_exit_2(capsys):
    assert cli.main(["preview", "--to", "020 123 4567", "hi"]) == 2
    assert "not a mobile" in capsys.readouterr().err
    assert cli.main(["preview", "--max-segments", "99", "hi"]) == 2
    assert cli.main(["preview", "{{x}}", "--field", "y=1"]) == 2


def test_cli_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "preview" in capsys.readouterr().err


def test_cli_registers_optional_subcommands(monkeypatch):
    import argparse
    import sys
    import types

    mod = types.ModuleType("fake_sub")

    def add_parser(subparsers):
        p = subparsers.add_parser("fake")
        p.set_defaults(func=lambda args: 5)

    mod.add_parser = add_parser
    monkeypatch.setitem(sys.modules, "fake_sub", mod)
    monkeypatch.setattr(cli, "OPTIONAL_SUBCOMMANDS", ["fake_sub", "smsdesk.nope.cli"])
    monkeypatch.setattr(cli, "_module_exists", lambda name: name in sys.modules)
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)
    assert cli.main(["fake"]) == 5

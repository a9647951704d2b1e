"""`bench/run.py --only`: a section run alone replaces its old self in docs/benchmarks.md, in place."""

from __future__ import annotations

from bench import run as bench_run

DOC = """# smsdesk benchmarks

Notes.

## Cost per delivered message (AWS calls, DynamoDB units, $ per million)

old cost
### Per stage
old stage

## Timer lateness on the local stack (action run − due)

old timers

## Contacts: importing 5,000 contacts from a CSV (local stack, `bench/bench_contacts.py`)

old contacts
"""


def test_a_section_replaces_its_old_self_in_place_and_leaves_the_rest() -> None:
    new = [
        "## Cost per delivered message (AWS calls, DynamoDB units, $ per million)",
        "",
        "new cost",
        "### Per stage",
        "new",
    ]
    out = bench_run.replace_sections(DOC, new)
    assert "old cost" not in out and "old stage" not in out
    assert out.index("new cost") < out.index("## Timer lateness") < out.index("old timers") < out.index("old contacts")
    assert out.startswith("# smsdesk benchmarks\n\nNotes.\n\n## Cost per delivered message")


def test_a_section_run_at_another_size_replaces_the_old_size_and_a_new_one_is_appended() -> None:
    new = [
        "## Contacts: importing 500 contacts from a CSV (local stack, `bench/bench_contacts.py`)",
        "",
        "small contacts",
        "## Something new",
        "",
        "fresh",
    ]
    out = bench_run.replace_sections(DOC, new)
    assert "old contacts" not in out and "5,000" not in out and out.count("## Contacts") == 1
    assert out.index("old timers") < out.index("small contacts") < out.index("## Something new")
    assert out.endswith("fresh\n")

import textwrap

import pytest

from tools import advisory_scan

RANGE_ADVISORY = """\
id: PYSEC-2099-1
aliases: [CVE-2099-0001]
affected:
- package: {ecosystem: PyPI, name: Example_Pkg}
  ranges:
  - type: GIT
    events: [{introduced: "0"}, {fixed: 0123abcd}]
  - type: ECOSYSTEM
    events: [{introduced: "1.0"}, {fixed: "1.4.2"}, {introduced: "2.0"}, {fixed: "2.1"}]
"""

LISTED_ADVISORY = """\
id: PYSEC-2099-2
affected:
- package: {ecosystem: PyPI, name: example-pkg}
  versions: ["3.0.0"]
"""

LAST_AFFECTED_ADVISORY = """\
id: PYSEC-2099-3
affected:
- package: {ecosystem: PyPI, name: example-pkg}
  ranges:
  - type: ECOSYSTEM
    events: [{introduced: "0"}, {last_affected: "0.9"}]
"""

WITHDRAWN_ADVISORY = """\
id: PYSEC-2099-4
withdrawn: "2099-01-01T00:00:00Z"
affected:
- package: {ecosystem: PyPI, name: example-pkg}
  versions: ["1.2"]
"""


@pytest.fixture
def advisories(tmp_path):
    root = tmp_path / "advisories"
    folder = root / "vulns" / "example-pkg"
    folder.mkdir(parents=True)
    for number, text in enumerate(
        [RANGE_ADVISORY, LISTED_ADVISORY, LAST_AFFECTED_ADVISORY, WITHDRAWN_ADVISORY]
    ):
        (folder / f"PYSEC-2099-{number + 1}.yaml").write_text(text)
    (root / "SOURCE.md").write_text("The folder is as of its commit abc of 2099-02-03.")
    return root


def _ids(pins, advisories):
    return [f.advisory for f in advisory_scan.scan(pins, advisories)]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.5", ["PYSEC-2099-3"]),
        ("0.9", ["PYSEC-2099-3"]),
        ("0.9.1", []),
        ("1.0", ["PYSEC-2099-1"]),
        ("1.2", ["PYSEC-2099-1"]),
        ("1.4.2", []),
        ("1.9", []),
        ("2.0.5", ["PYSEC-2099-1"]),
        ("2.1", []),
        ("3.0.0", ["PYSEC-2099-2"]),
        ("3.0.1", []),
    ],
)
def test_ranges_and_listed_versions(advisories, version, expected):
    assert _ids({"example-pkg": version}, advisories) == expected


def test_fixed_versions_come_from_ecosystem_ranges_only(advisories):
    (finding,) = advisory_scan.scan({"example-pkg": "1.2"}, advisories)
    assert finding.fixed == ("1.4.2", "2.1")
    assert finding.aliases == ("CVE-2099-0001",)


def test_lock_file_pins_are_read_by_canonical_name(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        textwrap.dedent(
            """\
            # a comment
            Example_Pkg==1.2 \\
                --hash=sha256:00
            other.pkg==2.0 ; python_version >= "3.11"
            -e .
            """
        )
    )
    assert advisory_scan.read_lock(lock) == {"example-pkg": "1.2", "other-pkg": "2.0"}


def test_main_fails_on_a_vulnerable_pin_and_prints_the_date(
    tmp_path, advisories, capsys
):
    lock = tmp_path / "lock.txt"
    lock.write_text("example-pkg==1.2\n")
    status = advisory_scan.main(["--lock", str(lock), "--advisories", str(advisories)])
    out = capsys.readouterr().out
    assert status == 1
    assert "as of 2099-02-03" in out
    assert "VULNERABLE  example-pkg==1.2: PYSEC-2099-1" in out


def test_main_passes_when_the_advisory_is_allowed_with_a_reason(
    tmp_path, advisories, capsys
):
    lock = tmp_path / "lock.txt"
    lock.write_text("example-pkg==1.2\n")
    allowlist = tmp_path / "allow.toml"
    allowlist.write_text(
        '[[allow]]\nid = "PYSEC-2099-1"\npackage = "Example.Pkg"\n'
        'reason = "The affected parser is never imported."\n'
        '[[allow]]\nid = "PYSEC-2099-9"\npackage = "example-pkg"\nreason = "old"\n'
    )
    status = advisory_scan.main(
        [
            "--lock",
            str(lock),
            "--advisories",
            str(advisories),
            "--allowlist",
            str(allowlist),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "allowed  example-pkg==1.2: PYSEC-2099-1" in out
    assert "PYSEC-2099-9 for example-pkg matched nothing" in out


def test_allowlist_entry_without_reason_is_refused(tmp_path):
    allowlist = tmp_path / "allow.toml"
    allowlist.write_text('[[allow]]\nid = "PYSEC-2099-1"\npackage = "x"\n')
    with pytest.raises(ValueError, match="has no reason"):
        advisory_scan.read_allowlist(allowlist)


def test_clean_lock_passes(tmp_path, advisories, capsys):
    lock = tmp_path / "lock.txt"
    lock.write_text("example-pkg==1.9\nunrelated==1.0\n")
    status = advisory_scan.main(["--lock", str(lock), "--advisories", str(advisories)])
    assert status == 0
    assert "Checked 2 locked packages: 0 known" in capsys.readouterr().out


def test_missing_advisory_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(advisory_scan.scan({"x": "1"}, tmp_path))

"""Every environment variable smsdesk reads is in the README's configuration table."""
import re

from app.config import PROJECT_ROOT

READ = re.compile(r"""(?:_int|_float|_bool|os\.environ\.get|os\.environ\[|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def documented() -> set[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, flags=re.MULTILINE))


def test_every_variable_read_by_the_configuration_is_documented():
    read = set(READ.findall((PROJECT_ROOT / "app" / "config.py").read_text()))
    assert len(read) > 40  # the pattern still finds what config.py reads
    assert sorted(read - documented()) == []

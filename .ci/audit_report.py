"""Read pip-audit's JSON report: fail on any vulnerability not in the reviewed ignore file.

Usage: audit_report.py REPORT.json IGNORE.toml. Exit 1 on a vulnerability that is not ignored,
on an ignore entry without a reason, or on a report that cannot be read; 0 otherwise. Packages
the vulnerability service could not look up are counted and named, so an audit that checked
nothing never reads as a clean one.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path


def main(report_path: str, ignore_path: str) -> int:
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"audit: pip-audit wrote no readable report ({err})", file=sys.stderr)
        return 1
    ignored = tomllib.loads(Path(ignore_path).read_text(encoding="utf-8")).get("ignore", [])
    reasons = {}
    for entry in ignored:
        if not str(entry.get("reason", "")).strip():
            print(f"audit: ignore entry {entry.get('id')!r} has no reason", file=sys.stderr)
            return 1
        reasons[entry["id"]] = entry["reason"]

    audited, skipped, found = 0, [], []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped.append(dep["name"])
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            known = sorted(ids & reasons.keys())
            if known:
                print(
                    f"audit: ignored {dep['name']} {dep['version']} {known[0]}: {reasons[known[0]]}"
                )
            else:
                fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
                found.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")

    print(f"audit: {audited} packages audited, {len(skipped)} could not be looked up")
    if skipped:
        print(
            "audit: not looked up (the vulnerability service does not know these versions, or "
            "is out of reach): " + ", ".join(skipped)
        )
    for line in found:
        print(f"audit: VULNERABLE {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

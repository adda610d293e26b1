#!/usr/bin/env python3
"""Fail when the project's code, tests, build files or docs point outside the repository.

The repository must stand on its own: a checkout on another machine has no sibling folders and
no particular absolute layout. This finds, in the files git knows (tracked, or new and not
ignored) whose kind can name a path (Python, Markdown, TOML, YAML, shell, Makefile, CI, env
examples, templates):

* relative paths that climb out of the repository (a parent-folder step that, resolved from
  the file's folder or from the repository's root, lands outside it), such as a sibling
  folder of the checkout;
* Python path arithmetic that goes up from a file: the file's parents joined with a parent
  step, a base directory joined with one, ``os.path.join`` with one;
* absolute paths of one machine: ``/work/...``, ``/home/<user>/...``, ``/Users/<user>/...``.

Vendored data (``boxsim/spec/``) and this file are not read. A line that must mention such a
path can carry the marker ``repo-paths: allow`` (this script's tests build theirs at run time).

Usage: ``scripts/check_repo_paths.py [--root DIR]``; exit status 1 and one line per finding
when something points outside, 0 otherwise. ``make lint`` runs it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

SUFFIXES = {
    ".py",
    ".md",
    ".rst",
    ".txt",
    ".toml",
    ".cfg",
    ".ini",
    ".yml",
    ".yaml",
    ".sh",
    ".json",
    ".html",
    ".example",
}
LINKING = {".md", ".rst", ".html"}
LINK_BEFORE = re.compile(r"(\]\(|href=[\"']|src=[\"'])$")
NAMES = {"Makefile", "Dockerfile", "manage.py"}
FOLDERS = ("scripts/", ".ci/")  # every file there is a script, whatever its name
SKIP_PREFIXES = ("boxsim/spec/", "scripts/check_repo_paths.py")
ALLOW_MARKER = "repo-paths: allow"

# A relative path that starts by going up: ../x, ../../x (also with backslashes).
RELATIVE_UP = re.compile(r"(?<![\w.])((?:\.\.[/\\])+)([\w.-]*)")
# Path arithmetic going up: `/ ".."`, `/ "../x"`, `"..", ` inside os.path.join.
PATH_UP = re.compile(r"/\s*(['\"])\.\.(?:[/\\][^'\"]*)?\1")
JOIN_UP = re.compile(r"os\.path\.(?:join|normpath|abspath)\([^)]*(['\"])\.\.\1")
# Absolute paths of a particular machine.
ABSOLUTE = re.compile(r"(?<![\w.:/-])(/work(?:/|\b)|/home/[\w.-]+/|/Users/[\w.-]+/)")


def candidate_files(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and ".git" not in path.parts and ".venv" not in path.parts
        ]
    files = []
    for name in sorted(set(names)):
        if name.startswith(SKIP_PREFIXES):
            continue
        path = root / name
        if not path.is_file() or path.is_symlink():
            continue
        if (
            path.suffix in SUFFIXES
            or path.name in NAMES
            or path.name.startswith(".env")
            or name.startswith(FOLDERS)
        ):
            files.append(path)
    return files


def _inside(root: Path, target: Path) -> bool:
    resolved = Path(os.path.normpath(target))
    return resolved == root or root in resolved.parents


def findings_in(root: Path, path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    relative = path.relative_to(root)
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        reasons = []
        for match in RELATIVE_UP.finditer(line):
            climb = match.group(1).replace("\\", "/") + match.group(2)
            # A link in a document is read from the document's folder; any other path (code,
            # build files, a path quoted in prose) may be read from there or from the root,
            # where commands run: it must stay inside from both.
            is_link = path.suffix in LINKING and LINK_BEFORE.search(line[: match.start()])
            bases = [path.parent] if is_link else [path.parent, root]
            if not all(_inside(root, base / climb) for base in bases):
                reasons.append(f"relative path {match.group(0)!r} leaves the repository")
        if PATH_UP.search(line) or JOIN_UP.search(line):
            reasons.append("path arithmetic goes up to the parent folder")
        for match in ABSOLUTE.finditer(line):
            reasons.append(f"absolute path {match.group(1)!r} of one machine")
        for reason in reasons:
            found.append(f"{relative}:{number}: {reason}: {line.strip()[:120]}")
    return found


def check(root: Path) -> list[str]:
    root = Path(os.path.normpath(root.resolve()))
    problems = []
    for path in candidate_files(root):
        problems.extend(findings_in(root, path))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    problems = check(args.root)
    for problem in problems:
        print(problem)  # noqa: T201
    if problems:
        print(  # noqa: T201
            f"{len(problems)} reference(s) to paths outside the repository; vendor what is "
            "needed into the repository and point at it (see boxsim/spec/README.md).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

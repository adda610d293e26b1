"""The repository stands on its own: nothing points outside it (scripts/check_repo_paths.py,
run by `make lint`), and the vendored Box description is the one its README names."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "scripts" / "check_repo_paths.py"
# Built at run time so that this file does not itself hold what the checker looks for.
UP = "." + "./"
MACHINE = "/" + "work"
HOME = "/" + "home/alice"


def run_checker(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECKER), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_repository_points_nowhere_outside_itself():
    result = run_checker(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("tests/spec.py", f'SPEC = Path(__file__).resolve().parents[2] / "{UP[:2]}" / "shared"'),
        ("tests/spec2.py", f'SPEC = BASE_DIR / "{UP}shared/specs/box-openapi.json"'),
        ("tests/join.py", f'SPEC = os.path.join(HERE, "{UP[:2]}", "shared")'),
        ("docs/page.md", f"The description is in `{UP}shared/specs/box-openapi.json`."),
        ("docs/deep.md", f"See [the mission]({UP}{UP}mission/MISSION.md)."),
        ("Makefile", f"spec:\n\tcp {UP}shared/specs/x.json ."),
        ("pyproject.toml", f'data = "{MACHINE}/shared/specs"'),
        ("docker-compose.yml", f"volumes: [{MACHINE}/data:/data]"),
        ("scripts/tool.py", f'CHECKOUT = "{HOME}/projects/boxbroker"'),
    ],
)
def test_each_way_out_is_found(tmp_path, name, line):
    # given: a clean tree with one offending line
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.md").write_text(f"Back to the [README]({UP}README.md).\n")
    (tmp_path / "README.md").write_text("Inside: `docs/ok.md`, `/usr/bin/chromium`, `/tmp`.\n")
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(line + "\n")
    # when
    result = run_checker(tmp_path)
    # then: exactly that line is reported
    assert result.returncode == 1
    reported = result.stdout.strip().splitlines()
    assert len(reported) >= 1
    assert all(entry.startswith(f"{name}:") for entry in reported), reported


def test_paths_inside_and_the_allow_marker_pass(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(f"[overview]({UP}README.md), [b](b.md)\n")
    (tmp_path / "docs" / "b.md").write_text(
        f"The old place was `{UP}shared` (repo-paths: allow).\n"
    )
    (tmp_path / "app.py").write_text('SPEC = Path(__file__).parent / "boxsim" / "spec"\n')
    (tmp_path / "boxsim" / "spec").mkdir(parents=True)
    (tmp_path / "boxsim" / "spec" / "data.json").write_text(f'{{"x": "{MACHINE}/x"}}\n')
    result = run_checker(tmp_path)
    assert result.returncode == 0, result.stdout


def test_the_vendored_box_description_matches_its_notice():
    spec = ROOT / "boxsim" / "spec" / "box-openapi.json"
    notice = (ROOT / "boxsim" / "spec" / "README.md").read_text()
    digest = hashlib.sha256(spec.read_bytes()).hexdigest()
    assert digest == "70adf696ed3955729f9c75d11f34658477c0ee143d9ff6252928f5bc0fa6d499"
    assert digest in notice
    assert "c9a878a9824344129881392e2b08f7117201e82e" in notice
    assert "Apache License" in notice and "Copyright 2020 Box, Inc." in notice
    licence = (ROOT / "boxsim" / "spec" / "LICENSE-Apache-2.0.txt").read_text()
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in licence

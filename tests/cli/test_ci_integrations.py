"""The pre-commit hooks run what they say on the files their pattern selects, and the example GitHub
workflow only uses commands and options ckptdiff has."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import ROOT, SAMPLES

yaml = pytest.importorskip("yaml", reason="reading the hook and workflow files needs PyYAML")
HOOKS = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def _selected(hook: dict, files: list[str]) -> list[str]:
    """What pre-commit passes: `files` matches, `exclude` does not."""
    pattern, exclude = re.compile(hook["files"]), re.compile(hook.get("exclude", "$^"))
    return [f for f in files if pattern.search(f) and not exclude.search(f)]


CANDIDATES = [
    "hostile/lambda.keras",
    "keras3/model.keras",
    "keras3/model.weights.h5",
    "tf2/ckpt-2.index",
    "tf2/ckpt-2.data-00000-of-00001",
    "tf2/checkpoint",
    "saved_model/saved_model.pb",
    "saved_model/variables/variables.index",
    "fresh_models.py",
]


@pytest.mark.parametrize(
    "hook_id,files,code",
    [
        ("ckptdiff-scan-verify", ["keras3/model.keras", "tf2/ckpt-2.index", "tf2/ckpt-2.data-00000-of-00001"], 0),
        ("ckptdiff-scan-verify", ["hostile/lambda.keras", "keras3/model.weights.h5"], 1),
        ("ckptdiff-untrained", ["fresh/before_training/ckpt.index"], 1),
        ("ckptdiff-untrained", ["tf2/ckpt-2.index"], 0),
    ],
)
def test_hooks(run_cli, hook_id, files, code):
    hook = HOOKS[hook_id]
    chosen = _selected(hook, [str(SAMPLES / f) for f in files])
    assert chosen and not any(c.endswith(".data-00000-of-00001") for c in chosen)
    argv = shlex.split(hook["entry"])
    assert argv[0] == "ckptdiff"
    result = run_cli(*argv[1:], *chosen)
    assert result.exit_code == code, result.stdout + result.stderr


def test_hook_pattern_selects_artifacts_not_their_parts():
    for hook in HOOKS.values():
        assert set(_selected(hook, CANDIDATES)) == {
            "hostile/lambda.keras",
            "keras3/model.keras",
            "keras3/model.weights.h5",
            "tf2/ckpt-2.index",
            "saved_model/saved_model.pb",
        }


def test_workflow_uses_real_commands_and_options(run_cli):
    workflow = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    commands = [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("run", "").startswith("ckptdiff")
    ]
    assert len(commands) >= 3
    for command in commands:
        argv = shlex.split(command)
        help_text = run_cli(argv[1], "--help").stdout
        for option in (a for a in argv[2:] if a.startswith("--")):
            assert option in help_text, (command, option)
        if "--format" in argv:
            assert argv[argv.index("--format") + 1] in help_text

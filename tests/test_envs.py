"""envs/*.yaml (for `--sdm conda` users) agree with the rules and with pyproject.toml.

CI has no conda channels, so the envs can't be built here: these tests check what can
be checked offline — every `conda:` path of every rule exists (resolved, as Snakemake
does, relative to the .smk file that holds the rule), each env parses, pins exactly the
versions of pyproject.toml's [project.dependencies], uses the same Python, and installs
the project itself.
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "Snakefile"]
CONDA_RE = re.compile(r"^\s*conda:\s*\n\s*[\"']([^\"']+)[\"']", re.M)


def conda_refs():
    refs = []
    for f in RULE_FILES:
        for m in CONDA_RE.finditer(f.read_text()):
            refs.append((f, m.group(1)))
    return refs


def pyproject_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for d in deps:
        name, _, version = d.partition("==")
        assert version, f"pyproject.toml: {d!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def env_files():
    return sorted((ROOT / "envs").glob("*.yaml"))


def pip_section(env):
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    return []


def test_every_rule_has_a_conda_env_that_exists():
    refs = conda_refs()
    assert refs, "no conda: directives found in workflow/rules/*.smk"
    for smk, rel in refs:
        path = (smk.parent / rel).resolve()
        assert path.is_file(), f"{smk.relative_to(ROOT)}: conda env {rel} -> {path} does not exist"
        assert path.parent == ROOT / "envs", f"{smk.name}: {rel} should point into envs/"


def test_every_shell_rule_declares_conda():
    for f in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", f.read_text()):
            if block.startswith("rule ") and "\n    shell:" in block:
                name = block.split(":")[0]
                assert "\n    conda:" in block, f"{f.name}: {name} has a shell: but no conda:"


@pytest.mark.parametrize("env_file", env_files(), ids=lambda p: p.name)
def test_env_pins_match_pyproject(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert env.get("channels"), f"{env_file.name}: no channels"
    pins = pyproject_pins()
    pip = pip_section(env)
    got = {}
    for line in pip:
        if line.startswith("-e") or line.startswith("--"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{env_file.name}: pip entry {line!r} is not pinned with =="
        got[name.strip().lower()] = version.strip()
    missing = sorted(set(pins) - set(got))
    extra = sorted(set(got) - set(pins))
    wrong = {n: (got[n], pins[n]) for n in set(got) & set(pins) if got[n] != pins[n]}
    assert not missing, f"{env_file.name}: pyproject dependencies missing from the env: {missing}"
    assert not extra, f"{env_file.name}: pins not in pyproject.toml: {extra}"
    assert not wrong, f"{env_file.name}: version differs from pyproject.toml (env, pyproject): {wrong}"


@pytest.mark.parametrize("env_file", env_files(), ids=lambda p: p.name)
def test_env_python_matches_requires_python(env_file):
    env = yaml.safe_load(env_file.read_text())
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert len(pythons) == 1, f"{env_file.name}: expected exactly one python entry, got {pythons}"
    version = pythons[0].split("=", 1)[1].lstrip("=")
    req = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lo = re.search(r">=\s*([\d.]+)", req).group(1)
    hi = re.search(r"<\s*([\d.]+)", req).group(1)
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(lo) <= as_tuple(version) < as_tuple(hi), f"{env_file.name}: python {version} vs {req}"


@pytest.mark.parametrize("env_file", env_files(), ids=lambda p: p.name)
def test_env_installs_the_project(env_file):
    """With --sdm conda Snakemake blocks PYTHONPATH: rnncap must be pip-installed in the env."""
    pip = pip_section(yaml.safe_load(env_file.read_text()))
    local = [p for p in pip if p.startswith("-e")]
    assert local, f"{env_file.name}: does not install the project (-e ../)"
    target = (env_file.parent / local[0].split(None, 1)[1]).resolve()
    assert (target / "pyproject.toml").is_file(), f"{env_file.name}: {local[0]} does not point at the project root"

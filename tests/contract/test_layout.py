"""No module outside a provider's folder (and its emulator) names that provider.

The registry and the top-level ``crowdsms/__init__.py`` (its exports) are the exceptions:
everything else reaches a provider through the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import crowdsms
from crowdsms.providers import _registry

ROOT = Path(crowdsms.__file__).parent
EXCEPTIONS = {ROOT / "__init__.py", ROOT / "providers" / "_registry.py"}


def allowed(path: Path, name: str) -> bool:
    own = (ROOT / "providers" / name, ROOT / "sandbox" / "emulators" / name)
    return path in EXCEPTIONS or any(folder in path.parents for folder in own)


@pytest.mark.parametrize("spec", _registry.providers(), ids=lambda spec: spec.name)
def test_only_the_providers_own_files_name_it(spec: _registry.ProviderSpec) -> None:
    pattern = re.compile(rf"{re.escape(spec.name)}|{re.escape(spec.title)}", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{number}"
        for path in sorted(ROOT.rglob("*.py"))
        if not allowed(path, spec.name)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []

"""The shared Hypothesis profile (registered and loaded in tests/conftest.py).

`ci` (when CI=true) runs every property test with the example counts it names; `dev` (a
developer's machine, and always `make test-fast`, which sets HYPOTHESIS_PROFILE=dev) runs a
tenth of them. A test states its thorough count through `examples(n)`;
`HYPOTHESIS_PROFILE=ci` runs the full counts locally.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import settings

CI_EXAMPLES: Final = 100  # the reference: a test's examples(n) is n under this profile
DEV_EXAMPLES: Final = 10


def register_profiles() -> None:
    settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)
    settings.register_profile("dev", max_examples=DEV_EXAMPLES, deadline=None)
    default = "ci" if os.environ.get("CI") == "true" else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


def examples(thorough: int) -> int:
    """`thorough` under the ci profile; the same share of it under another (at least 5)."""
    return max(5, thorough * settings().max_examples // CI_EXAMPLES)

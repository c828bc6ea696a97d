"""The Faker value pools' cache: keyed by Faker's version, and read without importing Faker."""

import subprocess
import sys

import faker

from factory.domains._pools import pool_cache_path, value_pools


def test_the_cache_file_names_the_installed_faker_version():
    assert f"-faker{faker.VERSION}." in pool_cache_path("en_US", 3).name


def test_a_process_reading_cached_pools_never_imports_faker():
    """An en_US recipe with cached pools starts without Faker (~35 ms of its locale scan)."""
    value_pools("en_US", 21)  # into this session's cache (tests/conftest.py's XDG_CACHE_HOME)
    code = (
        "import sys\n"
        "from factory.domains._pools import value_pools\n"
        "from factory.recipe import load_recipe\n"
        "assert load_recipe('lending-cot').profiles.locale == 'en_US'\n"
        "pools = value_pools('en_US', 21)\n"
        "assert pools.last_names.len() > 0\n"
        "print('faker' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"

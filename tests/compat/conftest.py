"""The differential tests need TF-Agents 0.19 (the compat stack): without it they are not collected."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("tf_agents") else ["test_*.py"]


def pytest_report_header(config):
    if collect_ignore_glob:
        return "tests/compat: tf_agents is not installed; the differential tests are not run"
    return None

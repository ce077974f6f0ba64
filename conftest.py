"""Repository-level pytest set-up for the notebooks under nbmake (tests/conftest.py holds the rest).

A conftest's hooks apply only to items below its folder, so this one sits at the root to reach
``notebooks/*.ipynb``.
"""

import os

# Notebooks run under nbmake in their own kernels, which inherit the environment: always the
# emulator (even on a machine with real keys), quick, and one throwaway ledger for all three. The
# clip checks stay on, as a user gets them (02 and 03 show them), though tests/conftest.py turns
# them off for the rest of the suite.
_NOTEBOOK_ENV = {"SORAKIT_EMULATE": "1", "SORAKIT_TIME_SCALE": "0.02", "SORAKIT_CLIP_CHECKS": "1"}
_saved_env: dict = {}


def pytest_runtest_setup(item):
    if item.path.suffix == ".ipynb":
        folder = getattr(item.config, "_sorakit_nb_dir", None)
        if folder is None:
            import tempfile

            folder = item.config._sorakit_nb_dir = tempfile.mkdtemp(prefix="sorakit-notebooks-")
        env = {**_NOTEBOOK_ENV, "SORAKIT_LEDGER": os.path.join(folder, "ledger.db"),
               "SORAKIT_MEDIA": os.path.join(folder, "media")}
        for key, value in env.items():
            _saved_env[key] = os.environ.get(key)
            os.environ[key] = value


def pytest_runtest_teardown(item):
    if item.path.suffix == ".ipynb":
        for key, value in _saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _saved_env.clear()


def pytest_unconfigure(config):
    folder = getattr(config, "_sorakit_nb_dir", None)
    if folder:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)

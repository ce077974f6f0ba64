"""Build hook for the one compiled part: the SQLite record decoder behind a fast ``Ledger.df``.

Everything else is in pyproject.toml. The extension is optional: where no C compiler is at hand
the install still succeeds and ``sorakit.ledger._pages`` decodes with numpy instead (slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sorakit.ledger._records",
            ["sorakit/ledger/_records.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)

"""Build of the optional C fan-out core; everything else is declared in pyproject.toml.

`optional=True`: where no compiler (or no Python headers) is found, the install still
succeeds and tickgate runs on the pure-Python twin (tickgate.streaming._fanout_py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tickgate.streaming._fanout",
            ["src/tickgate/streaming/_fanout.c"],
            optional=True,
        )
    ]
)

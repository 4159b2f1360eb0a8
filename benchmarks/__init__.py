"""crowdsms's benchmarks (not tests): ``nox -s bench`` or ``python -m benchmarks``.

See :mod:`benchmarks.__main__` for the sections and ``python -m benchmarks --help`` for the
sizes. ``benchmarks/sandbox_rate.py`` measures the sandbox alone and also runs by itself.
"""

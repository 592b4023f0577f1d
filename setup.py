"""Optional compiled build of the hot path (issue 12); everything else is in pyproject.toml.

    pip install -e .                                          # pure Python (the default)
    pip install 'mypy>=1.10' wheel && VMSIM_COMPILE=1 pip install --no-build-isolation .

With ``VMSIM_COMPILE=1`` mypyc compiles the modules below to C extensions (a C
compiler is needed); without it nothing is compiled and no compiler is needed.
Compiled and pure-Python runs give byte-identical results
(tests/speed/test_compiled.py, ``python -m benchmarks.golden``).
"""

import os
import sys

from setuptools import setup

#: the hot path: the policies of the seed's generations (4.19, RFC: busy list, free
#: list, AugSeq), the lock and the cost model.  Not (yet) compiled: the rb-tree family
#: (Optional links, see [tool.mypy] overrides), the engine and metrics (generators,
#: variables reused with two types), the kernels' paths.
COMPILED = [
    "simulator/allocators/augseq.py",
    "simulator/allocators/busy_list.py",
    "simulator/allocators/free_list.py",
    "simulator/lock.py",
    "simulator/costmodel.py",
]

ext_modules = []
# mypyc type-checks and translates at import; metadata (dist_info, egg_info) needs neither
if os.environ.get("VMSIM_COMPILE") == "1" and not {"dist_info", "egg_info", "sdist"} & set(sys.argv):
    from mypyc.build import mypycify

    # imported modules are analysed, their errors left to `mypy` (.ci/run)
    ext_modules = mypycify(["--follow-imports=silent", *COMPILED], opt_level="3")

setup(ext_modules=ext_modules)

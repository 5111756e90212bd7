"""Fault, concurrency and hostile-input suites (issue 8).

Each scenario lives in a plain module (``crash``, ``index_faults``, ...) as a
function that takes a seed and a number of iterations and returns a
``Tally``; the ``test_*`` modules run them small for ``make test`` and
``tests/long/faults.py`` runs them big.
"""

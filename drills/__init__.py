"""Reliability drills: the real system driven through faults, hard kills, concurrent writers and
secret sentinels, each returning figures to check.

benchmarks/reliability.py runs them with large counts and prints the figures (the README's
"Reliability" section); tests/test_reliability.py runs them small and asserts on them. They
sit above everything they drive (collectors, the warehouse, the CLI, the simulator) and
nothing of the product imports them.
"""

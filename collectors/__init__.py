"""One collector per platform, one common shape: handles in, one recorded outcome per account out.

Collectors never write to the warehouse; `collectors.run.collect` drives them.
"""

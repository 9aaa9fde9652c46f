"""Helpers the tests import (conftest.py holds only fixtures, built from these).

browser    headless Chromium through Playwright, and what a page did
cases      detection scenarios with the verdict each should get
cli        the result of an in-process `audience` run; the sample's last day
clock      virtual and recording clocks for the collectors' gates and retries
simulator  the simulator's test world, credentials and environment
smtp       a real SMTP server on loopback (STARTTLS, login)
warehouse  the warehouse contract, a digest of every table, a warehouse as a user makes one
"""

"""Reliability suites: faults, crashes, chaos, bad answers, bad input and secrets."""

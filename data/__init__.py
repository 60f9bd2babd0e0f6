"""Synthetic data for Praktik: the demo region and the generator that makes it.

Every name, address, organisation number and contact in here is invented.
"""

"""Benchmarks run by ``hub bench``: each measures the hub beside the physical limit it stands on."""

"""pytest_ohbench.core"""

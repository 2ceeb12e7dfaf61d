"""Rossmann Store Sales: daily sales of 1,115 German drugstores, 48 days ahead (RMSPE)."""

"""Tills: offline sales batches synced once, in any order, with stock conflicts reported."""

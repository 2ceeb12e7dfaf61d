"""The competitions: one package per folder, each with spec.py (data) and twin.py (generator).

kit finds them through `kit.spec.registry()`; nothing imports one by name.
"""

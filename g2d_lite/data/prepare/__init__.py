"""Dataset preparation: the logic behind ``data_scripts/prepare_*.py``.

Each module builds one kind of cache and has a ``main(argv)`` that the thin script calls, so tests
run the real command line in-process. Decoding libraries (PyAV) are imported here only, never by
the loaders.
"""

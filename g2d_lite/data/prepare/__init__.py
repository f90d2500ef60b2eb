"""Dataset preparation: ``python -m g2d_lite.data.prepare <avmnist|cremad|clips> [options]``.

Each module builds one kind of cache and has a ``main(argv)``; the module entry point works from
any folder, and ``data_scripts/prepare_*.py`` are thin wrappers over it for a checkout, so tests
run the real command line in-process. Decoding libraries (PyAV) are imported here only, never by
the loaders.
"""

"""C99 kernels of the engine, copied into every generated project (package data)."""

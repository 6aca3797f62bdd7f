"""Sans-I/O protocol layer: text in, typed commands out; typed events in, bytes out."""

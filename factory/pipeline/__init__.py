"""distilabel pipeline assembly, sharding, resume and finalization of a generation run.

The modules that build or run distilabel steps (run, steps, judge) import factory._distilabel
themselves; the rest (prompts, finalize, the shard files) are read by evaluation and the CLI
without loading distilabel (~1.5 s on a 2-core machine).
"""

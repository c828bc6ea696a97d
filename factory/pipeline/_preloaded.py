"""Last in the fork server's preload list (see factory/_distilabel.py): freezes its heap.

Every step process is forked from the fork server and inherits the modules it preloaded,
hundreds of thousands of objects that live as long as the process. `gc.freeze()` moves them
out of the collector's reach: a full collection in a step process then scans only what the
step itself made (measured: the template teacher spent a quarter of its CPU time in collections
that rescanned the preloaded modules for every shard), and never writes to the shared pages
that hold them, which would copy those pages into each process.
"""

import gc

gc.freeze()

"""``python -m dcsim``: the same as the ``dcsim`` command."""

import sys

try:
    from dcsim.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command is being imported: no traceback, the usual status
    print("dcsim: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())

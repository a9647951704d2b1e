"""``python -m smsdesk.local``: the same as ``smsdesk local``."""

import sys

from smsdesk.local.cli import main

sys.exit(main())

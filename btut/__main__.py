import sys

from btut.cli import main

sys.exit(main())

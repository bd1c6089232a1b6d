import sys

from btut.entry import main

sys.exit(main())

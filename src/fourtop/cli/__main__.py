import sys

from fourtop.cli import main

sys.exit(main())

import sys

from lipexact.batch.cli import main

sys.exit(main())

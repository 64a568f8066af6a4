"""`python -m tflm_mcunet`: the `tflm-mcunet` command."""
import sys

from .cli import main

sys.exit(main())

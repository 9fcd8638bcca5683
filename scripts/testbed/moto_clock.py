"""moto's server with a settable push clock for ECR.

moto stamps `imagePushedAt` with the moment of PutImage and offers no way to backdate it, so a
retention test could only age images by moving its own "now" into the future. This runs moto's
own server (`moto.server.main`, the same as `moto_server`) with one change: ECR's models read the
time as the real clock minus the seconds `$TESTBED_CLOCK_FILE` holds (nothing when it is missing
or empty). A test writes how long ago its pushes should look, pushes (in order, a second apart
where order matters, as on the real clock), and empties the file. Nothing else of moto is
touched.
"""

import os
import sys
from datetime import datetime, timedelta, timezone

import moto.ecr.models as ecr_models
from moto.server import main

CLOCK_FILE = os.environ.get("TESTBED_CLOCK_FILE", "")


class _Clock(datetime):
    @classmethod
    def now(cls, tz=None):
        try:
            with open(CLOCK_FILE, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        real = datetime.now(tz or timezone.utc)
        if not text:
            return real if tz else real.replace(tzinfo=None)
        moved = real - timedelta(seconds=int(text))
        return moved if tz else moved.replace(tzinfo=None)


if CLOCK_FILE:
    ecr_models.datetime = _Clock

if __name__ == "__main__":
    sys.exit(main())

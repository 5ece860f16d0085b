"""Figures measured in child processes: the peak memory of a large delivery check, and the import time."""

import statistics
import subprocess
import sys
from pathlib import Path

from harness import ATS_OPTIONS, ROOT, RUNS, RemoteGateway, record, seed_sending

# -- 7: memory of a large delivery check ----------------------------------------------------------------------

PEAK_CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
import smscore
service = smscore.build_service({{"storage": "sqlalchemy", "database_url": "sqlite:///{path}", "provider": "ats",
    "provider_options": {options!r}, "check_chunk_size": 500}})
report = service.check_delivery()
assert report.changed == {n}, report
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_peak_rss(tmp: Path, sizes: tuple[int, ...]) -> None:
    peaks: dict[int, float] = {}
    with RemoteGateway(keep_requests=False, code=23) as gateway:
        for n in sizes:
            path = tmp / f"rss-{n}.db"
            seed_sending(path, n, gateway.url)
            code = PEAK_CHILD.format(
                root=str(ROOT), path=path, options={**ATS_OPTIONS, "url": gateway.url, "max_batch_size": 500}, n=n
            )
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            peaks[n] = int(out.stdout.strip().splitlines()[-1]) / 1024
    largest = max(sizes)
    record(
        "check_delivery_peak_rss_mib",
        peaks[largest],
        None,
        "MiB",
        [peaks[n] for n in sizes],
        by_count={str(n): round(peaks[n], 1) for n in sizes},
        growth_mib=round(peaks[largest] - peaks[min(sizes)], 1),
    )


# -- 8: import time -------------------------------------------------------------------------------------------

IMPORT_CHILD = """
import sys, time
start = time.perf_counter()
import smscore
elapsed = time.perf_counter() - start
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'sqlalchemy', 'alembic', 'boto3', 'botocore', 'twilio', 'httpx', 'celery', 'psycopg'})
print(elapsed * 1000, len(heavy))
"""


def bench_import() -> None:
    runs = []
    for _ in range(RUNS + 2):
        out = subprocess.run([sys.executable, "-c", IMPORT_CHILD], capture_output=True, text=True, check=True)
        ms, heavy = out.stdout.split()
        assert heavy == "0", "importing smscore loaded an adapter dependency"
        runs.append(float(ms))
    runs = runs[1:]
    record("import_ms", statistics.median(runs), None, "ms", runs, adapter_dependencies_loaded=0)

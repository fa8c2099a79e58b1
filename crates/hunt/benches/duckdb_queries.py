"""DuckDB side of benches/queries.rs: the same questions in SQL over the same
data (the rows of the bench's netward store, read back through the store and
written to Parquet), loaded into in-memory tables,
warm, 2 threads; prints one JSON object per query: name, median ms of 5 runs,
the answer."""
import json
import statistics
import sys
import time

import duckdb

QUERIES = [
    ("contains_host", "SELECT count(*) FROM dne WHERE RemoteUrl ILIKE '%evil%'"),
    ("has_url", "SELECT count(*) FROM dne WHERE regexp_matches(RemoteUrl, '(^|[^A-Za-z0-9])example($|[^A-Za-z0-9])', 'i')"),
    ("device_5m_bins", "SELECT count(*) FROM (SELECT DeviceId, epoch_ns(\"Timestamp\") // 300000000000 b, count(*) FROM dne GROUP BY 1, 2)"),
    ("top_domains", "SELECT sum(c) FROM (SELECT RemoteUrl, count(*) c FROM dne GROUP BY 1 ORDER BY c DESC LIMIT 10)"),
    ("join_device_info", "SELECT count(*) FROM dne JOIN (SELECT DeviceId, OSVersion FROM info) i USING (DeviceId) WHERE i.OSVersion = '6.1'"),
]


def main():
    d = sys.argv[1]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE dne AS SELECT * FROM read_parquet('{d}/dne.parquet')")
    con.execute(f"CREATE TABLE info AS SELECT * FROM read_parquet('{d}/info.parquet')")
    for name, sql in QUERIES:
        answer = con.execute(sql).fetchone()[0]  # warm-up
        times = []
        for _ in range(5):
            t = time.perf_counter()
            answer = con.execute(sql).fetchone()[0]
            times.append((time.perf_counter() - t) * 1000)
        print(json.dumps({"name": name, "ms": statistics.median(times), "answer": int(answer)}), flush=True)


if __name__ == "__main__":
    main()

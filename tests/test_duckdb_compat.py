"""A warehouse made by the CLI opens in a DuckDB 1.5 client (issue 12.17).

The client lives in its own environment, `.tools/duckdb-1.5/` (the `duckdb` package 1.5.6
from PyPI), which `scripts/test` creates; this test never touches the network.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

from tests.support.warehouse import CONTRACT, build_warehouse

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / ".tools" / "duckdb-1.5" / "bin" / "python"
DOCUMENTED = [*CONTRACT, "account_metrics", "imports", "alerts"]

READER = textwrap.dedent(
    """
    import json, sys
    import duckdb
    path, tables, queries = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    con = duckdb.connect(path, read_only=True)
    out = {"version": duckdb.__version__, "tables": {}, "queries": []}
    for table in tables:
        out["tables"][table] = con.execute(f"SELECT count(*) FROM (SELECT * FROM {table})").fetchall()[0][0]
    for query in queries:
        out["queries"].append(len(con.execute(query).fetchall()))
    print(json.dumps(out))
    """
)


def readme_queries() -> list[str]:
    """The example queries of the README's section "The warehouse"."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## The warehouse")[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block, "the README's warehouse section has no sql block"
    statements = [s.strip() for s in block.group(1).split(";") if s.strip()]
    return [re.sub(r"^--.*\n", "", s, flags=re.M).strip() for s in statements]


def test_a_duckdb_1_5_client_reads_the_warehouse(tmp_path: Path) -> None:
    assert CLIENT.exists(), (
        f"the DuckDB 1.5 client environment {CLIENT.parent.parent} is missing: "
        "run ./scripts/test (it sets it up)"
    )
    warehouse = build_warehouse(tmp_path / "audience.duckdb")
    queries = readme_queries()
    assert len(queries) == 3
    run = subprocess.run(
        [str(CLIENT), "-c", READER, str(warehouse), json.dumps(DOCUMENTED), json.dumps(queries)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["version"].startswith("1.5.")
    assert found["tables"]["snapshots"] == 2983
    assert found["tables"]["daily_metrics"] > 2983
    assert found["tables"]["imports"] == 1
    assert all(n > 0 for n in found["queries"]), found["queries"]

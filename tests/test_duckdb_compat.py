"""A warehouse made by the CLI opens in a DuckDB 1.5 client, which reads every row of every
documented table (issue 12.17).

The client lives in its own environment, `.tools/duckdb-1.5/` (the `duckdb` package 1.5.6
from PyPI), which `scripts/test` creates; this test never touches the network.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import duckdb

from audience.cli import main
from tests.support.warehouse import CONTRACT, build_warehouse, readme_tables

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / ".tools" / "duckdb-1.5" / "bin" / "python"

READER = textwrap.dedent(
    """
    import json, sys
    import duckdb
    path, tables, queries = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    con = duckdb.connect(path, read_only=True)
    out = {"version": duckdb.__version__, "tables": {}, "queries": []}
    for table in tables:  # every value, as Python objects: TIMESTAMPTZ needs pytz there
        out["tables"][table] = len(con.execute(f"SELECT * FROM {table}").fetchall())
    for query in queries:
        out["queries"].append(len(con.execute(query).fetchall()))
    print(json.dumps(out))
    """
)


def _replace_one_figure(warehouse: Path, tmp_path: Path) -> None:
    """An `import --replace` of one figure, so that import_replacements has a row too."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT platform, handle, day, followers FROM snapshots ORDER BY ALL LIMIT 1"
        ).fetchall()[0]
    fix = tmp_path / "fix.csv"
    fix.write_text(f"platform,handle,date,followers\n{row[0]},{row[1]},{row[2]},{row[3] + 1}\n")
    assert main(["-q", "--warehouse", str(warehouse), "import", "--replace", str(fix)]) == 0


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
    _replace_one_figure(warehouse, tmp_path)
    documented = readme_tables()
    assert set(CONTRACT) <= set(documented)
    assert "import_replacements" in documented
    queries = readme_queries()
    assert len(queries) == 3
    run = subprocess.run(
        [str(CLIENT), "-c", READER, str(warehouse), json.dumps(documented), json.dumps(queries)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["version"].startswith("1.5.")
    assert found["tables"]["snapshots"] == 2983
    assert found["tables"]["daily_metrics"] > 2983
    assert found["tables"]["imports"] == 2
    assert found["tables"]["import_replacements"] == 1
    assert found["tables"]["runs"] >= 3
    assert sorted(found["tables"]) == sorted(documented)
    assert all(n > 0 for n in found["queries"]), found["queries"]

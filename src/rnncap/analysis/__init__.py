"""Analysis of the trial tables: fits (CSV + numbers.json), tables, scorecard, report.

One module per idea, pure functions over pandas DataFrames:
capacity, memory, losscurves, trainability, randomhp, stats; then fit (all CSVs),
tables, scorecard and paper (the report), and cli (their subcommands).
"""

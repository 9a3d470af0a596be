# Two entry points (README): `make pipeline` and `make test`. Both install first.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
# make test SLURM=0 skips the real-SLURM cluster tests (CI always runs them: needs root + apt)
SLURM  ?= 1

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	$(VENV)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

.PHONY: install pipeline test bench repro record-figures
install: $(VENV)/.installed

pipeline: install
	$(VENV)/bin/snakemake --cores $(CORES) $(ARGS)

test: install
	SLURM=$(SLURM) bash tests/run.sh

bench: install
	$(VENV)/bin/python benchmarks/throughput.py

# The workstation reproduction (config/repro.yaml, <= 2 h on 2 cores), then its record in
# results/reproductions/repro/ to compare with the committed paper/reproductions/repro/.
repro: install
	@started=$$(date -u +%FT%TZ); start=$$(date +%s); \
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/repro.yaml $(ARGS) && \
	$(VENV)/bin/rnncap reproduction --preset repro --config config/repro.yaml --started $$started \
	  --command "snakemake --cores $(CORES) --configfile config/repro.yaml" \
	  --wall-s $$(( $$(date +%s) - start )) --out results/reproductions/repro

# Figures from a committed record, no training (about a minute): the fits, figures, tables,
# scorecard and paper document of RECORD's trial tables, into results/records/<preset>/.
RECORD ?= paper/reproductions/repro
record-figures: install
	$(VENV)/bin/rnncap record-figures --record $(RECORD) $(ARGS)

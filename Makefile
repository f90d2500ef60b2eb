# Convenience targets; each one is a thin wrapper over a command documented in the README.
.PHONY: setup demo test lint nbval refresh-notebooks student-exercises grid-ci classroom lock bench-imbalance bench-throughput bench-gpu

setup:
	bash scripts/setup_env.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check g2d_lite tests benchmarks data_scripts

refresh-notebooks: setup
	.venv/bin/python -m g2d_lite.run refresh

nbval: setup
	OMP_NUM_THREADS=1 G2D_LITE_PROGRESS=0 .venv/bin/pytest --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

grid-ci: setup
	.venv/bin/python -m g2d_lite.run 04 -f params/ablation_ci.yaml

classroom: setup
	.venv/bin/python -m g2d_lite.run all --profile classroom

student-exercises: setup
	.venv/bin/python -m g2d_lite.exercises build --out build/student

lock: setup
	{ echo "# Exact versions tested (pip freeze of the .venv built from requirements.txt on Python 3.11)."; \
	  echo "# Regenerate with: make lock"; \
	  .venv/bin/pip freeze --exclude-editable; } > requirements.lock

bench-imbalance: setup
	.venv/bin/python benchmarks/imbalance.py --seeds 0,1,2

bench-throughput: setup
	.venv/bin/python benchmarks/throughput.py

bench-gpu: setup
	.venv/bin/python benchmarks/gpu.py

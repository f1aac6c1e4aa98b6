"""kesu evaluation: quality reports, baselines, version comparison and speed benchmarks."""

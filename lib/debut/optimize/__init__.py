"""Launch optimizer: one MILP per category over demand scenarios (debut.optimize.category),
the optimize_launch job (debut.optimize.job), reference policies and realised profit
(debut.optimize.policies), and an on-demand benchmark (debut.optimize.bench)."""

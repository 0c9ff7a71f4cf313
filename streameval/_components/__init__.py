"""Components: the parts an accumulator is built from.

Each component is one kind of count state and everything about it, in one module:

- its declaration (``declare``: the ``_state.StateArray`` of each array, for a configuration,
  checked without allocating);
- how it counts its part of a validated batch (through the accumulator's storage) and what a
  batch adds to its totals (for the overflow checks made before anything is written);
- how it merges, when that is not adding arrays (an exact table);
- its metric methods, as a mixin class the accumulator lists among its bases.

==========================  ====================================  ==========================
component                   arrays                                metric methods
==========================  ====================================  ==========================
confusion.Confusion         ``_cm`` (K, K)                        ``ConfusionMetrics``
bins.ScoreBins              ``_hist``, ``_score_sums``,           ``OneVsRestCurves``
                            ``_out_of_range`` (per column)
calibration                 ``_calib`` (Brier, log loss, outside) ``CalibrationMetrics``
exact.ExactTable            ``_table_scores``, ``_table_counts``, (Binary's curves)
                            ``_table_shift``
topk.TopKRanks              ``_topk`` (ranks of the true class)   (Multiclass.accuracy)
samples.SampleSums          ``_sample_sums`` (Multilabel)         (average="samples")
bootstrap.Bootstrap         ``_boot_*`` (R replicates)            ``interval(method="bootstrap")``
predictions.PredictionCounts ``_unl_pred``, ``_unl_prob``,        ``PredictionMethods``
                            ``_unl_var``, ``_unl_hist``, ``_unl_sums`` (unlabelled=True)
==========================  ====================================  ==========================

An accumulator is its components plus its input handling: Binary is a 2x2 confusion matrix with
optional bins or an exact table, calibration sums and replicates; an accumulator of unlabelled
predictions would be prediction counts and bins, inheriting none of the label metrics.
"""

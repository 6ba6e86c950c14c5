/**
 * Distillation of a teacher (Switch, top-k, Hash, Ladder or dense) into a dense student: initialisation from the
 * teacher's weights ({@link dev.switchback.distill.StudentInit}), the mixed hard/soft loss
 * ({@link dev.switchback.distill.DistillationLoss}), the run ({@link dev.switchback.distill.DistillationRun}) and the
 * percent-of-gain report ({@link dev.switchback.distill.GainReport}).
 */
package dev.switchback.distill;

package dev.switchback.distill;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * How much of the teacher's quality gain over a dense model trained from scratch the student kept, on one metric
 * (validation perplexity, lower is better): (ppl_dense − ppl_student) / (ppl_dense − ppl_teacher). The Switch
 * paper reports about 30% for its distilled T5 students. Without a gain (teacher no better than dense) the ratio
 * means nothing, and there is none.
 */
public record GainReport(double teacherPerplexity, double densePerplexity, double studentPerplexity) {

    public GainReport {
        for (double ppl : new double[] {teacherPerplexity, densePerplexity, studentPerplexity}) {
            if (!(Double.isFinite(ppl) && ppl >= 1)) {
                throw new IllegalArgumentException("a perplexity must be a finite number >= 1, got " + ppl);
            }
        }
    }

    /** Whether the teacher beats the dense baseline, i.e. there is a gain to keep. */
    public boolean teacherBetter() {
        return teacherPerplexity < densePerplexity;
    }

    /** Percent of the gain kept (100 = as good as the teacher, 0 = no better than dense, negative = worse); empty without a gain. */
    public OptionalDouble percentKept() {
        if (!teacherBetter()) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(100 * (densePerplexity - studentPerplexity) / (densePerplexity - teacherPerplexity));
    }

    /** The report in one sentence. */
    public String describe() {
        String figures = String.format(Locale.ROOT, "validation ppl: teacher %.2f, dense from scratch %.2f, student %.2f",
                teacherPerplexity, densePerplexity, studentPerplexity);
        if (!teacherBetter()) {
            return "the teacher is not better than the dense baseline trained from scratch, so there is no gain to keep "
                    + "and no percentage (" + figures + ")";
        }
        double kept = percentKept().getAsDouble();
        return String.format(Locale.ROOT, "the student kept %.1f%% of the teacher's gain%s (%s)", kept,
                kept > 100 ? ", over 100%: it is better than its teacher" : "", figures);
    }
}

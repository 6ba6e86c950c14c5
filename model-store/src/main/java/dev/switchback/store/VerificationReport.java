package dev.switchback.store;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/** Every problem found in a model folder; {@link #ok()} when there is none. */
public record VerificationReport(Path dir, List<Problem> problems) {

    public VerificationReport {
        Objects.requireNonNull(dir, "dir");
        problems = List.copyOf(problems);
    }

    /** True when the folder is complete and unaltered. */
    public boolean ok() {
        return problems.isEmpty();
    }

    /** The problems, one per line, each starting with the file it concerns. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (Problem p : problems) {
            sb.append(p).append('\n');
        }
        return sb.toString();
    }

    /** One problem with one file of the folder ({@code file} is a name inside the folder). */
    public record Problem(String file, String message) {
        public Problem {
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public String toString() {
            return file + ": " + message;
        }
    }
}
